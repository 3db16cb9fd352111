using System.Text.Json;

namespace OnnxGpt.Cli.Tests;

/// <summary><c>generate --json-schema FILE</c> and <c>--json-object</c>: the output is JSON, complete, finish Stop.</summary>
public sealed class GenerateJsonTests
{
    [Test]
    public async Task Json_schema_from_a_file_constrains_the_output()
    {
        var file = Path.Combine(Path.GetTempPath(), $"onnxgpt-schema-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{"type":"object","properties":{"name":{"type":"string","maxLength":8},"lines":{"type":"integer","minimum":1,"maximum":9}},"required":["name","lines"],"additionalProperties":false}""");
        try
        {
            var json = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "60", "--json-schema", file, "--json")).Json();
            using var value = JsonDocument.Parse(json.GetProperty("text").GetString()!);

            Assert.Multiple(() =>
            {
                Assert.That(json.GetProperty("finishReason").GetString(), Is.EqualTo("Stop"));
                Assert.That(value.RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "name", "lines" }));
                Assert.That(value.RootElement.GetProperty("name").GetString()!.Length, Is.LessThanOrEqualTo(8));
                Assert.That(value.RootElement.GetProperty("lines").GetInt32(), Is.InRange(1, 9));
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task Json_object_streams_an_object()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "40", "--json-object");
        using var value = JsonDocument.Parse(run.Stdout);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(value.RootElement.ValueKind, Is.EqualTo(JsonValueKind.Object));
            Assert.That(run.Stderr, Does.Contain("finish: Stop"));
        });
    }

    [Test]
    public async Task An_unsupported_keyword_is_a_usage_error_naming_it()
    {
        var file = Path.Combine(Path.GetTempPath(), $"onnxgpt-schema-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{"type":"string","pattern":"^a+$"}""");
        try
        {
            var run = await CliRunner.RunAsync("generate", "ROMEO:", "--json-schema", file);
            var missing = await CliRunner.RunAsync("generate", "ROMEO:", "--json-schema", file + ".missing");

            Assert.Multiple(() =>
            {
                Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
                Assert.That(run.Stderr, Does.Contain("'pattern'"));
                Assert.That(missing.ExitCode, Is.EqualTo(2), missing.ToString());
                Assert.That(missing.Stderr, Does.Contain("--json-schema"));
            });
        }
        finally
        {
            File.Delete(file);
        }
    }
}
