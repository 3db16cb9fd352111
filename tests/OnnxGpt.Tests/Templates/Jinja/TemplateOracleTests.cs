using System.Diagnostics;
using System.Text.Json;
using OnnxGpt.Templates;

namespace OnnxGpt.Tests.Templates.Jinja;

/// <summary>
/// Differential tests: the real chat templates of the hub fixtures and of other model families, rendered over
/// conversations with system prompts, several turns, tools, tool calls and results, and no generation prompt, must
/// equal what Python's jinja2, configured as transformers configures it, rendered (tools/template-oracle/oracle.py).
/// </summary>
public sealed class TemplateOracleTests
{
    private static readonly string DataDirectory = Path.Combine(AppContext.BaseDirectory, "Templates", "Jinja", "data");

    private static readonly Lazy<Dictionary<string, (ChatTemplate Template, Dictionary<string, object?> Special)>> Templates = new(() =>
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(DataDirectory, "templates.json")));
        var templates = new Dictionary<string, (ChatTemplate, Dictionary<string, object?>)>(StringComparer.Ordinal);
        foreach (var entry in document.RootElement.GetProperty("templates").EnumerateArray())
        {
            var special = entry.GetProperty("special_tokens").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.GetString());
            templates[entry.GetProperty("name").GetString()!] = (ChatTemplate.Parse(entry.GetProperty("template").GetString()!), special);
        }

        return templates;
    });

    public static IEnumerable<TestCaseData> Cases()
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(DataDirectory, "oracle.json")));
        foreach (var item in document.RootElement.GetProperty("cases").EnumerateArray())
        {
            var name = $"{item.GetProperty("template").GetString()}/{item.GetProperty("conversation").GetString()}";
            yield return new TestCaseData(item.Clone()).SetArgDisplayNames(name);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Rendering_matches_python_jinja2(JsonElement item)
    {
        var (template, special) = Templates.Value[item.GetProperty("template").GetString()!];
        var variables = new Dictionary<string, object?>(special)
        {
            ["messages"] = item.GetProperty("messages"),
            ["tools"] = item.GetProperty("tools"),
            ["documents"] = null,
        };
        foreach (var variable in item.GetProperty("variables").EnumerateObject())
        {
            variables[variable.Name] = variable.Value;
        }

        if (item.TryGetProperty("error", out var error))
        {
            var ex = Assert.Throws<ChatTemplateException>(() => template.Render(variables, FixedClock.OracleNow));
            var expected = error.GetString()!;
            if (expected.StartsWith("TemplateError: ", StringComparison.Ordinal))
            {
                Assert.That(ex!.Message, Is.EqualTo(expected["TemplateError: ".Length..]));
            }
            else
            {
                Assert.That(ex!.Message, Does.Contain(expected[(expected.IndexOf(": ", StringComparison.Ordinal) + 2)..]));
            }

            return;
        }

        Assert.That(template.Render(variables, FixedClock.OracleNow), Is.EqualTo(item.GetProperty("text").GetString()));
    }

    [Test]
    public void Qwen3_template_renders_fast()
    {
        var (template, special) = Templates.Value["hub-qwen3"];
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(DataDirectory, "oracle.json")));
        var item = document.RootElement.GetProperty("cases").EnumerateArray()
            .First(c => c.GetProperty("template").GetString() == "hub-qwen3" && c.GetProperty("conversation").GetString() == "tool_call_nine_char_id");
        var variables = new Dictionary<string, object?>(special)
        {
            ["messages"] = item.GetProperty("messages"),
            ["tools"] = item.GetProperty("tools"),
            ["add_generation_prompt"] = true,
        };
        for (var i = 0; i < 200; i++)
        {
            template.Render(variables);
        }

        const int Renders = 2000;
        var watch = Stopwatch.StartNew();
        var length = 0;
        for (var i = 0; i < Renders; i++)
        {
            length += template.Render(variables).Length;
        }

        watch.Stop();
        var microseconds = watch.Elapsed.TotalMicroseconds / Renders;
        TestContext.Out.WriteLine($"Qwen3 template, 5 messages + 1 tool ({length / Renders} chars): {microseconds:F1} us per render");
        Assert.That(microseconds, Is.LessThan(2000), "rendering a chat template must cost well under a decode step");
    }
}
