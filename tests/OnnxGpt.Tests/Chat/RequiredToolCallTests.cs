using System.Text.Json;
using Microsoft.Extensions.AI;
using OnnxGpt.Chat;
using OnnxGpt.Constraints;
using OnnxGpt.Generation;
using OnnxGpt.Tests.Constraints;

namespace OnnxGpt.Tests.Chat;

/// <summary>
/// Required tool calls (<see cref="ChatToolMode.RequireAny"/>, <see cref="ChatToolMode.RequireSpecific"/>) on the hub
/// fixtures' real templates and tokenizers over tiny random graphs: the constraint makes the call valid whatever the
/// weights, the markers are forced as their single tokens, and Microsoft.Extensions.AI's function invocation runs.
/// </summary>
[TestFixture]
public sealed class RequiredToolCallTests
{
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string","maxLength":12},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city","unit"],"additionalProperties":false}""";

    private const int ToolCallOpen = 151657;
    private const int ToolCallClose = 151658;

    private static readonly AIFunctionDeclaration Weather = AIFunctionFactory.CreateDeclaration("get_weather", "Get the current weather in a city.", JsonDocument.Parse(WeatherSchema).RootElement);

    private static readonly AIFunctionDeclaration Time = AIFunctionFactory.CreateDeclaration("get_time", "Get the time in a time zone.", JsonDocument.Parse(
        """{"type":"object","properties":{"zone":{"type":"string","maxLength":10}},"required":["zone"],"additionalProperties":false}""").RootElement);

    private readonly Dictionary<string, GptModel> _models = [];

    [OneTimeTearDown]
    public void Unload()
    {
        foreach (var model in _models.Values)
        {
            model.Dispose();
        }
    }

    [TestCase(null)]
    [TestCase(7)]
    [TestCase(42)]
    public async Task RequireSpecific_returns_the_named_call_with_schema_valid_arguments(int? seed)
    {
        using var chat = Client("qwen3");
        var options = new ChatOptions { Tools = [Time, Weather], ToolMode = ChatToolMode.RequireSpecific("get_weather"), MaxOutputTokens = 80, Seed = seed, Temperature = seed is null ? 0 : 1 };

        var response = await chat.GetResponseAsync([new(ChatRole.User, "Weather in Oslo?")], options);

        var result = (GenerationResult)response.RawRepresentation!;
        TestContext.Out.WriteLine(result.Text);
        var call = response.Messages.Single().Contents.OfType<FunctionCallContent>().Single();
        Assert.Multiple(() =>
        {
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
            Assert.That(call.Name, Is.EqualTo("get_weather"));
            Assert.That(result.TokenIds[0], Is.EqualTo(ToolCallOpen), "<tool_call> is forced as its token");
            Assert.That(result.TokenIds[^1], Is.EqualTo(ToolCallClose), "</tool_call> is forced as its token and ends the reply");
            Assert.That(result.Text, Does.StartWith("<tool_call>\n{").And.EndWith("}\n</tool_call>"));
            Assert.That(response.Text, Is.Empty, "the call is no text");
        });
        JsonAssert.Valid(JsonSerializer.Serialize(call.Arguments), WeatherSchema);
    }

    [Test]
    public async Task RequireAny_picks_one_of_the_tools_and_streams_it_as_a_function_call()
    {
        using var chat = Client("qwen3");
        var options = new ChatOptions { Tools = [Weather, Time], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 80, Temperature = 0 };

        var updates = await chat.GetStreamingResponseAsync([new(ChatRole.User, "Weather in Oslo?")], options).ToListAsync();

        var calls = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().ToList();
        Assert.Multiple(() =>
        {
            Assert.That(calls, Has.Count.EqualTo(1));
            Assert.That(calls[0].Name, Is.AnyOf("get_weather", "get_time"));
            Assert.That(string.Concat(updates.Select(u => u.Text)), Is.Empty);
            Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
        });
        JsonAssert.Valid(JsonSerializer.Serialize(calls[0].Arguments), calls[0].Name == "get_weather" ? WeatherSchema : Time.JsonSchema.GetRawText());
    }

    [Test]
    public async Task UseFunctionInvocation_invokes_the_required_tool_with_valid_arguments_and_answers()
    {
        var invocations = new List<(string City, string Unit)>();
        var weather = AIFunctionFactory.Create(
            (string city, string unit) =>
            {
                invocations.Add((city, unit));
                return $"21.5 {unit} in {city}";
            },
            "get_weather",
            "Get the current weather in a city.");
        using var inner = Client("qwen3");
        using var chat = new ChatClientBuilder(inner).UseFunctionInvocation().Build();

        var response = await chat.GetResponseAsync("Weather in Oslo?", new ChatOptions { Tools = [weather], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 48, Temperature = 0 });

        var messages = response.Messages;
        Assert.Multiple(() =>
        {
            Assert.That(invocations, Has.Count.EqualTo(1), "the function ran once; the next turn is no longer required to call");
            Assert.That(messages[0].Contents.OfType<FunctionCallContent>().Single().Name, Is.EqualTo("get_weather"));
            Assert.That(messages[1].Contents.OfType<FunctionResultContent>().Single().Result?.ToString(), Is.EqualTo($"21.5 {invocations[0].Unit} in {invocations[0].City}"));
            Assert.That(messages[^1].Role, Is.EqualTo(ChatRole.Assistant));
            Assert.That(response.FinishReason, Is.Not.EqualTo(ChatFinishReason.ToolCalls));
        });
        var arguments = messages[0].Contents.OfType<FunctionCallContent>().Single().Arguments;
        JsonAssert.Valid(JsonSerializer.Serialize(arguments), weather.JsonSchema.GetRawText());
    }

    [Test]
    public async Task Llama_3_calls_are_the_bare_JSON_object_with_parameters()
    {
        using var chat = Client("llama3", ToolCallFormat.Llama3Json);
        var response = await chat.GetResponseAsync([new(ChatRole.User, "Weather?")], new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.RequireAny, MaxOutputTokens = 80, Temperature = 0 });

        var result = (GenerationResult)response.RawRepresentation!;
        TestContext.Out.WriteLine(result.Text);
        using var call = JsonDocument.Parse(result.Text);
        Assert.Multiple(() =>
        {
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
            Assert.That(call.RootElement.GetProperty("name").GetString(), Is.EqualTo("get_weather"));
            Assert.That(response.Messages.Single().Contents.OfType<FunctionCallContent>().Single().Name, Is.EqualTo("get_weather"));
        });
        JsonAssert.Valid(call.RootElement.GetProperty("parameters").GetRawText(), WeatherSchema);
    }

    /// <summary>Markers the vocabulary lacks (the mistral fixture has no [TOOL_CALLS], qwen3 no Phi markers) are spelled out.</summary>
    [TestCase("mistral", ToolCallFormat.Mistral, @"^\[TOOL_CALLS\]\[\s*\{", @"\}\s*\]$")]
    [TestCase("qwen3", ToolCallFormat.Phi4Mini, @"^<\|tool_call\|>\[\s*\{", @"\}\s*\]<\|/tool_call\|>$")]
    public async Task Array_formats_hold_one_call_between_their_markers(string hub, ToolCallFormat format, string start, string end)
    {
        var template = hub == "mistral" ? JinjaChatTemplate.Create("{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}", new Dictionary<string, object?> { ["bos_token"] = "<s>" }) : null;
        using var chat = Client(hub, format, template);
        var response = await chat.GetResponseAsync([new(ChatRole.User, "Weather?")], new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.RequireSpecific("get_weather"), MaxOutputTokens = 100, Temperature = 0 });

        var result = (GenerationResult)response.RawRepresentation!;
        TestContext.Out.WriteLine(result.Text);
        var call = response.Messages.Single().Contents.OfType<FunctionCallContent>().Single();
        Assert.Multiple(() =>
        {
            Assert.That(result.Text, Does.Match(start).And.Match(end));
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.ToolCalls));
            Assert.That(call.Name, Is.EqualTo("get_weather"));
        });
        JsonAssert.Valid(JsonSerializer.Serialize(call.Arguments), WeatherSchema);
    }

    [Test]
    public void A_special_token_marker_is_forced_as_its_id_and_kept_in_the_text()
    {
        var model = Load("qwen3");
        var imStart = model.Tokenizer!.Encode("<|im_start|>", addSpecialTokens: false).Single();
        var generator = GptGenerator.Create(model);
        var close = model.Tokenizer.Encode("<|object_ref_end|>", addSpecialTokens: false).Single();
        var options = new GenerationOptions { FramedJson = new JsonOutputFrame("<|im_start|>", """{"type":"boolean"}""", "<|object_ref_end|>"), DoSample = false, MaxNewTokens = 10 };

        var result = generator.GenerateAsync("x", options).Result;

        Assert.Multiple(() =>
        {
            Assert.That(result.TokenIds[0], Is.EqualTo(imStart));
            Assert.That(result.TokenIds[^1], Is.EqualTo(close));
            Assert.That(result.Text, Is.AnyOf("<|im_start|>true<|object_ref_end|>", "<|im_start|>false<|object_ref_end|>"));
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Stop));
        });
    }

    [Test]
    public void Qwen_markers_are_split_off_the_frame_as_their_token_ids()
    {
        var model = Load("qwen3");
        var frame = RequiredToolCall.Frame(ToolCallFormat.Hermes, [Weather], (RequiredChatToolMode)ChatToolMode.RequireAny);
        var constraint = (FramedTokenConstraint)FramedTokenConstraint.Start(frame, "schema", model.Tokenizer!, model.Info.VocabularySize, model.Info.EosTokenIds);
        Assert.Multiple(() =>
        {
            Assert.That(constraint.OpeningTokens, Is.EqualTo(new[] { ToolCallOpen }));
            Assert.That(constraint.ClosingTokens, Is.EqualTo(new[] { ToolCallClose }));
            var (openIds, afterOpen) = FramedTokenConstraint.LeadingMarkers(model.Tokenizer!, "<tool_call>\n");
            var (closeIds, beforeClose) = FramedTokenConstraint.TrailingMarkers(model.Tokenizer!, "\n</tool_call>");
            Assert.That((openIds.Single(), afterOpen), Is.EqualTo((ToolCallOpen, "\n")));
            Assert.That((closeIds.Single(), beforeClose), Is.EqualTo((ToolCallClose, "\n")));
            Assert.That(FramedTokenConstraint.LeadingMarkers(model.Tokenizer!, "<|tool_call|>").Ids, Is.Empty, "qwen3 has no Phi marker token");
        });
    }

    [Test]
    public void The_Hermes_frame_is_the_call_object_between_the_markers()
    {
        var frame = RequiredToolCall.Frame(ToolCallFormat.Hermes, [Weather], (RequiredChatToolMode)ChatToolMode.RequireAny);
        Assert.Multiple(() =>
        {
            Assert.That(frame.Prefix, Is.EqualTo("<tool_call>\n"));
            Assert.That(frame.Suffix, Is.EqualTo("\n</tool_call>"));
            Assert.That(frame.Schema, Is.EqualTo("""{"type":"object","properties":{"name":{"const":"get_weather"},"arguments":""" + WeatherSchema + """},"required":["name","arguments"],"additionalProperties":false}"""));
        });
    }

    [Test]
    public void Tool_schemas_with_definitions_are_merged_under_renamed_definitions()
    {
        var tree = AIFunctionFactory.CreateDeclaration("plant", "Plants a tree.", JsonDocument.Parse(
            """{"type":"object","properties":{"root":{"$ref":"#/$defs/node"}},"required":["root"],"additionalProperties":false,"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["v","kids"],"additionalProperties":false}}}""").RootElement);
        var frame = RequiredToolCall.Frame(ToolCallFormat.Llama3Json, [Weather, tree], (RequiredChatToolMode)ChatToolMode.RequireAny);
        using var schema = JsonDocument.Parse(frame.Schema!);
        Assert.Multiple(() =>
        {
            Assert.That(schema.RootElement.GetProperty("$defs").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "tool1_node" }));
            Assert.That(schema.RootElement.GetProperty("anyOf")[1].GetProperty("properties").GetProperty("parameters").GetProperty("properties").GetProperty("root").GetProperty("$ref").GetString(), Is.EqualTo("#/$defs/tool1_node"));
            Assert.That(schema.RootElement.GetProperty("$defs").GetProperty("tool1_node").GetProperty("properties").GetProperty("kids").GetProperty("items").GetProperty("$ref").GetString(), Is.EqualTo("#/$defs/tool1_node"));
        });
        JsonAssert.Valid("""{"name":"plant","parameters":{"root":{"v":1,"kids":[{"v":2,"kids":[]}]}}}""", frame.Schema);
        Assert.That(() => JsonSchemaConstraint.Get(frame, "schema"), Throws.Nothing);
    }

    [Test]
    public void RequireSpecific_of_an_unknown_tool_names_it()
    {
        using var chat = Client("qwen3");
        var ex = Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")], new ChatOptions { Tools = [Weather, Time], ToolMode = ChatToolMode.RequireSpecific("get_wether") }));
        Assert.Multiple(() =>
        {
            Assert.That(ex!.ParamName, Is.EqualTo("ToolMode"));
            Assert.That(ex.Message, Does.StartWith("ChatOptions.ToolMode requires the tool 'get_wether', but ChatOptions.Tools has no function of that name (it has 'get_weather', 'get_time')."));
        });
    }

    [Test]
    public void A_required_mode_without_tools_or_with_an_unsupported_parameter_schema_is_refused_clearly()
    {
        using var chat = Client("qwen3");
        var none = Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")], new ChatOptions { ToolMode = ChatToolMode.RequireAny }));
        var pattern = AIFunctionFactory.CreateDeclaration("find", null, JsonDocument.Parse("""{"type":"object","properties":{"q":{"type":"string","pattern":"^a"}}}""").RootElement);
        var unsupported = Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")], new ChatOptions { Tools = [pattern], ToolMode = ChatToolMode.RequireAny }));
        Assert.Multiple(() =>
        {
            Assert.That(none!.Message, Does.StartWith("ChatOptions.ToolMode requires a tool call, but ChatOptions.Tools holds no function"));
            Assert.That(unsupported!.ParamName, Is.EqualTo("Tools"));
            Assert.That(unsupported.Message, Does.StartWith("ChatOptions.Tools: 'pattern'").Or.Contain("'pattern'"));
        });
    }

    [Test]
    public void A_template_with_no_known_call_format_refuses_a_required_mode()
    {
        using var chat = new GptChatClient(new FakeGenerator(), new GptChatClientOptions { ChatTemplate = JinjaChatTemplate.Create("{% for m in messages %}{{ m.content }}{% endfor %}") });
        var ex = Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync([new(ChatRole.User, "x")], new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.RequireAny }));
        Assert.That(ex!.Message, Does.StartWith("ChatOptions.ToolMode is not supported by GptChatClient: requiring a tool call needs to know how the model writes one"));
    }

    [Test]
    public void Tool_mode_none_bans_the_opening_marker_token()
    {
        using var chat = Client("qwen3");
        var none = chat.ToGenerationOptions(new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.None });
        var auto = chat.ToGenerationOptions(new ChatOptions { Tools = [Weather] });
        Assert.Multiple(() =>
        {
            Assert.That(none.BannedTokenSequences, Is.EqualTo(new[] { new[] { ToolCallOpen } }));
            Assert.That(auto.BannedTokenSequences, Is.Null);
        });
    }

    private GptChatClient Client(string hub, ToolCallFormat? format = null, IChatTemplate? template = null) =>
        new(GptGenerator.Create(Load(hub)), new GptChatClientOptions { ToolCallFormat = format, ChatTemplate = template });

    private GptModel Load(string hub)
    {
        if (!_models.TryGetValue(hub, out var model))
        {
            model = GptModel.Load(new GptOptions { ModelPath = TestPaths.Hub(hub) });
            _models[hub] = model;
        }

        return model;
    }
}
