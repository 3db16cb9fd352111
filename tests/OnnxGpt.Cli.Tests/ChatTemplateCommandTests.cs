using System.Text.Json;

namespace OnnxGpt.Cli.Tests;

public sealed class ChatTemplateCommandTests
{
    private static readonly string Qwen3 = Path.Combine(AppContext.BaseDirectory, "hub", "qwen3");

    [TestCase("system_multi")]
    [TestCase("no_generation_prompt")]
    public async Task Prints_the_model_folders_template_as_transformers_renders_it(string chat)
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Qwen3, "reference.json")));
        var expected = reference.RootElement.GetProperty("chats").GetProperty(chat);
        var messages = Path.GetTempFileName();
        try
        {
            File.WriteAllText(messages, expected.GetProperty("messages").GetRawText());
            string[] args = ["chat-template", "--model", Qwen3, "--messages", messages];
            if (expected.TryGetProperty("add_generation_prompt", out var flag) && !flag.GetBoolean())
            {
                args = [.. args, "--no-generation-prompt"];
            }

            var run = await CliRunner.RunAsync(args);
            Assert.That((run.ExitCode, run.Stdout), Is.EqualTo((0, expected.GetProperty("text").GetString())), run.ToString());
        }
        finally
        {
            File.Delete(messages);
        }
    }

    [Test]
    public async Task Renders_tools_tool_calls_and_results()
    {
        var messages = Path.GetTempFileName();
        var tools = Path.GetTempFileName();
        try
        {
            File.WriteAllText(messages, """
                [{"role": "user", "content": "Weather in Oslo?"},
                 {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
                 {"role": "tool", "tool_call_id": "call_1", "content": "7"}]
                """);
            File.WriteAllText(tools, """[{"type": "function", "function": {"name": "get_weather", "description": "Weather.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]""");
            var run = await CliRunner.RunAsync("chat-template", "--model", Qwen3, "--messages", messages, "--tools", tools);
            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.Zero, run.ToString());
                Assert.That(run.Stdout, Does.Contain("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}}}}\n</tools>"));
                Assert.That(run.Stdout, Does.EndWith("<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n7\n</tool_response><|im_end|>\n<|im_start|>assistant\n"));
            });
        }
        finally
        {
            File.Delete(messages);
            File.Delete(tools);
        }
    }

    [Test]
    public async Task Json_prints_the_text_and_the_ids_the_model_receives()
    {
        var messages = Path.GetTempFileName();
        try
        {
            File.WriteAllText(messages, """[{"role": "user", "content": "ROMEO:"}]""");
            var run = await CliRunner.RunAsync("chat-template", "--messages", messages, "--json");
            var tokenize = await CliRunner.RunAsync("tokenize", "User: ROMEO:\nAssistant:", "--json");
            var json = run.Json();
            var ids = tokenize.Json();
            Assert.Multiple(() =>
            {
                Assert.That(json.GetProperty("text").GetString(), Is.EqualTo("User: ROMEO:\nAssistant:"));
                Assert.That(json.GetProperty("ids").Ints(), Is.EqualTo(ids.GetProperty("ids").Ints()));
            });
        }
        finally
        {
            File.Delete(messages);
        }
    }

    [Test]
    public async Task A_bad_messages_file_is_a_usage_error_naming_it()
    {
        var messages = Path.GetTempFileName();
        try
        {
            File.WriteAllText(messages, """{"role": "user"}""");
            var run = await CliRunner.RunAsync("chat-template", "--messages", messages);
            Assert.That((run.ExitCode, run.Stderr.Trim()), Is.EqualTo((2, "error: --messages must hold a JSON array of messages.")), run.ToString());
        }
        finally
        {
            File.Delete(messages);
        }
    }
}
