using System.Text.Json;
using Microsoft.Extensions.AI;
using OnnxGpt.Chat;
using OnnxGpt.Generation;
using OnnxGpt.Templates;

namespace OnnxGpt.Tests.Chat;

/// <summary>
/// GptChatClient with the model folder's own Jinja template: the hub fixtures' recorded chats, messages with tool
/// calls and results rendered as Python's jinja2 rendered them, and tool calls parsed from each format's output.
/// </summary>
public sealed class JinjaChatClientTests
{
    private static readonly string Hub = Path.Combine(AppContext.BaseDirectory, "hub");

    private static readonly AIFunction Weather = AIFunctionFactory.Create(
        (string city, string unit) => $"21.5 {unit} in {city}", "get_weather", "Get the current weather in a city.");

    [TestCase("qwen3")]
    [TestCase("llama3")]
    [TestCase("gemma3")]
    public void Renders_the_hub_fixtures_reference_chats(string model)
    {
        var template = JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, model))!;
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Hub, model, "reference.json")));
        var chats = reference.RootElement.GetProperty("chats").EnumerateObject().ToList();
        Assert.That(chats, Has.Count.EqualTo(3));
        foreach (var chat in chats)
        {
            var messages = chat.Value.GetProperty("messages").EnumerateArray()
                .Select(m => new ChatMessage(new ChatRole(m.GetProperty("role").GetString()!), m.GetProperty("content").GetString())).ToList();
            var addGenerationPrompt = !chat.Value.TryGetProperty("add_generation_prompt", out var flag) || flag.GetBoolean();
            Assert.That(template.Format(messages, addGenerationPrompt), Is.EqualTo(chat.Value.GetProperty("text").GetString()), chat.Name);
        }
    }

    [TestCase("qwen3")]
    [TestCase("llama3")]
    [TestCase("gemma3")]
    public void The_rendered_chats_tokenized_without_special_tokens_give_the_reference_ids(string model)
    {
        var template = JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, model))!;
        var tokenizer = OnnxGpt.Tests.Tokenization.TokenizerJson.HubTokenizers.Get("hub/" + model);
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Hub, model, "reference.json")));
        foreach (var chat in reference.RootElement.GetProperty("chats").EnumerateObject())
        {
            var messages = chat.Value.GetProperty("messages").EnumerateArray()
                .Select(m => new ChatMessage(new ChatRole(m.GetProperty("role").GetString()!), m.GetProperty("content").GetString())).ToList();
            var addGenerationPrompt = !chat.Value.TryGetProperty("add_generation_prompt", out var flag) || flag.GetBoolean();
            var ids = tokenizer.Encode(template.Format(messages, addGenerationPrompt), addSpecialTokens: false);
            Assert.That(ids, Is.EqualTo(chat.Value.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32())), chat.Name);
        }
    }

    [Test]
    public void The_mistral_fixture_ships_no_template_and_keeps_the_built_in_one()
    {
        Assert.That(JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, "mistral")), Is.Null);
    }

    /// <summary>The oracle's "tool_call_nine_char_id" conversation, built from Microsoft.Extensions.AI content.</summary>
    [TestCase("hub-qwen3", "qwen3")]
    [TestCase("hub-llama3", "llama3")]
    public void Function_calls_and_results_render_as_transformers_renders_them(string oracleTemplate, string model)
    {
        var template = JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, model))!;
        var tool = AIFunctionFactory.CreateDeclaration("get_weather", "Get the current weather in a city.", JsonDocument.Parse(
            """{"type": "object", "properties": {"city": {"type": "string", "description": "The city, e.g. Paris"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}""").RootElement);
        ChatMessage[] messages =
        [
            new(ChatRole.System, "Be brief."),
            new(ChatRole.User, "Weather in Zürich?"),
            new(ChatRole.Assistant, [new FunctionCallContent("a1B2c3D4e", "get_weather", new Dictionary<string, object?> { ["city"] = "Zürich", ["unit"] = "celsius" })]),
            new(ChatRole.Tool, [new FunctionResultContent("a1B2c3D4e", "21.5")]),
            new(ChatRole.Assistant, "21.5 °C."),
        ];
        Assert.That(template.Format(messages, false, [tool], null), Is.EqualTo(OracleText(oracleTemplate, "tool_call_nine_char_id")));
    }

    [Test]
    public void The_prompt_is_tokenized_without_special_tokens_and_extra_variables_reach_the_template()
    {
        var fake = new FakeGenerator(FinishReason.Eos, "4");
        using var client = Qwen3Client(fake, new Dictionary<string, object?> { ["enable_thinking"] = true });
        _ = client.GetResponseAsync([new(ChatRole.User, "2+2?")], new ChatOptions { AdditionalProperties = new() { ["enable_thinking"] = false } }).Result;
        Assert.Multiple(() =>
        {
            Assert.That(fake.LastPrompt!.AddSpecialTokens, Is.False);
            Assert.That(fake.LastPrompt.Text, Is.EqualTo(OracleText("hub-qwen3", "thinking_off")));
        });
    }

    [Test]
    public void Hermes_tool_calls_become_function_call_content_with_text_around_kept()
    {
        var fake = new FakeGenerator(FinishReason.Eos, "Let me check.\n", "<tool", "_call>\n{\"name\": \"get_weather\", ", "\"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}\n</tool_call>");
        using var client = Qwen3Client(fake);
        var response = client.GetResponseAsync([new(ChatRole.User, "Weather?")], new ChatOptions { Tools = [Weather] }).Result;
        var contents = response.Messages.Single().Contents;
        Assert.Multiple(() =>
        {
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
            Assert.That(contents, Has.Count.EqualTo(2));
            Assert.That(((TextContent)contents[0]).Text, Is.EqualTo("Let me check.\n"));
            var call = (FunctionCallContent)contents[1];
            Assert.That(call.Name, Is.EqualTo("get_weather"));
            Assert.That(call.CallId, Does.Match("^call_[0-9a-f]{24}$"));
            Assert.That(call.Arguments!.ToDictionary(a => a.Key, a => a.Value!.ToString()), Is.EqualTo(new Dictionary<string, string> { ["city"] = "Zürich", ["unit"] = "celsius" }));
            Assert.That(fake.LastPrompt!.Text, Does.Contain("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the current weather in a city.\", \"parameters\": {"));
        });
    }

    [TestCase(ToolCallFormat.Llama3Json, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Oslo\"}}", "", "Oslo")]
    [TestCase(ToolCallFormat.Llama3Json, "<|python_tag|>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}", "", "Oslo")]
    [TestCase(ToolCallFormat.Mistral, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}, \"id\": \"abcDEF123\"}]", "", "Rome")]
    [TestCase(ToolCallFormat.Phi4Mini, "Sure. <|tool_call|>[{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Lima\\\"}\"}]<|/tool_call|>", "Sure. ", "Lima")]
    [TestCase(ToolCallFormat.Hermes, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Kyiv\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Kyiv\"}}\n</tool_call>", "", "Kyiv")]
    public void Each_format_is_parsed_streaming_and_not(ToolCallFormat format, string output, string textBefore, string city)
    {
        // Split the output into 3-character tokens, so markers and JSON cross token boundaries.
        var tokens = Enumerable.Range(0, (output.Length + 2) / 3).Select(i => output.Substring(i * 3, Math.Min(3, output.Length - (i * 3)))).ToArray();
        using var client = Qwen3Client(new FakeGenerator(FinishReason.Eos, tokens), format: format);
        var options = new ChatOptions { Tools = [Weather] };
        var response = client.GetResponseAsync([new(ChatRole.User, "Weather?")], options).Result;
        var updates = client.GetStreamingResponseAsync([new(ChatRole.User, "Weather?")], options).ToBlockingEnumerable().ToList();
        var streamedCalls = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().ToList();
        var expectedCalls = format == ToolCallFormat.Hermes ? 2 : 1;
        Assert.Multiple(() =>
        {
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
            Assert.That(response.Text, Is.EqualTo(textBefore));
            var calls = response.Messages.Single().Contents.OfType<FunctionCallContent>().ToList();
            Assert.That(calls.Select(c => (c.Name, c.Arguments!["city"]!.ToString())), Is.EqualTo(Enumerable.Repeat(("get_weather", city), expectedCalls)));
            if (format == ToolCallFormat.Mistral)
            {
                Assert.That(calls[0].CallId, Is.EqualTo("abcDEF123"));
            }

            Assert.That(string.Concat(updates.Select(u => u.Text)), Is.EqualTo(textBefore));
            Assert.That(streamedCalls.Select(c => (c.Name, c.Arguments!["city"]!.ToString())), Is.EqualTo(Enumerable.Repeat(("get_weather", city), expectedCalls)));
            Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        });
    }

    [Test]
    public async Task UseFunctionInvocation_runs_the_call_and_sends_the_result_back_through_the_template()
    {
        var fake = new FakeGenerator(FinishReason.Eos, "unused");
        fake.Replies.Add(["<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"C\"}}\n</tool_call>"]);
        fake.Replies.Add(["It is 21.5 C in Oslo."]);
        using var inner = Qwen3Client(fake);
        using var client = new ChatClientBuilder(inner).UseFunctionInvocation().Build();
        var response = await client.GetResponseAsync("Weather in Oslo?", new ChatOptions { Tools = [Weather] });
        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("It is 21.5 C in Oslo."));
            Assert.That(fake.Prompts, Has.Count.EqualTo(2));
            Assert.That(fake.Prompts[1].Text, Does.EndWith(
                "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"C\"}}\n</tool_call><|im_end|>\n"
                + "<|im_start|>user\n<tool_response>\n21.5 C in Oslo\n</tool_response><|im_end|>\n<|im_start|>assistant\n"));
        });
    }

    [Test]
    public void Text_that_only_looks_like_a_call_stays_text_and_streams_unchanged()
    {
        var output = new[] { "A <tool", "_call> is ", "not JSON here." };
        using var client = Qwen3Client(new FakeGenerator(FinishReason.Eos, output));
        var options = new ChatOptions { Tools = [Weather] };
        var response = client.GetResponseAsync([new(ChatRole.User, "x")], options).Result;
        var streamed = client.GetStreamingResponseAsync([new(ChatRole.User, "x")], options).ToBlockingEnumerable().ToList();
        Assert.Multiple(() =>
        {
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
            Assert.That(response.Text, Is.EqualTo("A <tool_call> is not JSON here."));
            Assert.That(string.Concat(streamed.Select(u => u.Text)), Is.EqualTo("A <tool_call> is not JSON here."));
            Assert.That(streamed[^1].FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        });
    }

    [Test]
    public void Without_tools_or_with_tool_mode_none_the_reply_is_not_parsed()
    {
        const string Output = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>";
        using var client = Qwen3Client(new FakeGenerator(FinishReason.Eos, Output));
        var plain = client.GetResponseAsync([new(ChatRole.User, "x")]).Result;
        var none = client.GetResponseAsync([new(ChatRole.User, "x")], new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.None }).Result;
        Assert.Multiple(() =>
        {
            Assert.That((plain.Text, plain.FinishReason), Is.EqualTo((Output, ChatFinishReason.Stop)));
            Assert.That((none.Text, none.FinishReason), Is.EqualTo((Output, ChatFinishReason.Stop)));
        });
    }

    [Test]
    public void A_required_tool_mode_asks_the_generator_for_the_framed_call()
    {
        var fake = new FakeGenerator(FinishReason.Stop, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\", \"unit\": \"C\"}}\n</tool_call>");
        using var client = Qwen3Client(fake);
        var response = client.GetResponseAsync([new(ChatRole.User, "x")], new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.RequireAny }).Result;
        Assert.Multiple(() =>
        {
            Assert.That(fake.LastOptions!.FramedJson!.Prefix, Is.EqualTo("<tool_call>\n"));
            Assert.That(fake.LastOptions.FramedJson.Suffix, Is.EqualTo("\n</tool_call>"));
            Assert.That(fake.LastOptions.FramedJson.Schema, Does.StartWith("""{"type":"object","properties":{"name":{"const":"get_weather"},"arguments":{"""));
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        });
    }

    [Test]
    public void A_template_error_reaches_the_caller_as_chat_template_exception()
    {
        using var client = new GptChatClient(new FakeGenerator(), new GptChatClientOptions { ChatTemplate = JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, "gemma3")) });
        var ex = Assert.ThrowsAsync<ChatTemplateException>(() => client.GetResponseAsync([new(ChatRole.User, "a"), new(ChatRole.User, "b")]));
        Assert.That(ex!.Message, Is.EqualTo("Conversation roles must alternate user/assistant/user/assistant/..."));
    }

    [Test]
    public void The_tool_call_format_is_recognised_from_the_template()
    {
        Assert.Multiple(() =>
        {
            Assert.That(JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, "qwen3"))!.ToolCallFormat, Is.EqualTo(ToolCallFormat.Hermes));
            Assert.That(JinjaChatTemplate.DetectToolCallFormat("{{ '[TOOL_CALLS]' }}"), Is.EqualTo(ToolCallFormat.Mistral));
            Assert.That(JinjaChatTemplate.DetectToolCallFormat("<|tool_call|>"), Is.EqualTo(ToolCallFormat.Phi4Mini));
            Assert.That(JinjaChatTemplate.DetectToolCallFormat("<|start_header_id|>{\"name\": ..., \"parameters\": ...}"), Is.EqualTo(ToolCallFormat.Llama3Json));
            Assert.That(JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, "gemma3"))!.ToolCallFormat, Is.EqualTo(ToolCallFormat.None));
        });
    }

    private static GptChatClient Qwen3Client(FakeGenerator fake, IDictionary<string, object?>? variables = null, ToolCallFormat? format = null) =>
        new(fake, new GptChatClientOptions { ChatTemplate = JinjaChatTemplate.FromModelDirectory(Path.Combine(Hub, "qwen3")), TemplateVariables = variables, ToolCallFormat = format });

    private static string OracleText(string template, string conversation)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Templates", "Jinja", "data", "oracle.json")));
        return document.RootElement.GetProperty("cases").EnumerateArray()
            .First(c => c.GetProperty("template").GetString() == template && c.GetProperty("conversation").GetString() == conversation)
            .GetProperty("text").GetString()!;
    }
}
