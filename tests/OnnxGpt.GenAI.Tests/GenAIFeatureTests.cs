using System.Text.RegularExpressions;
using OnnxGpt.Generation;

namespace OnnxGpt.GenAI.Tests;

/// <summary>onnxruntime-genai's own features: constrained decoding (guidance) and adapters.</summary>
public class GenAIFeatureTests
{
    private static readonly Lazy<GenAIGenerator> Shakespeare = new(() => Fixtures.Create(Fixtures.TinyShakespeare));

    [Test]
    public async Task A_regex_constraint_shapes_the_output()
    {
        var result = await Shakespeare.Value.GenerateAsync(
            "ROMEO:",
            new GenerationOptions { DoSample = false, MaxNewTokens = 40 },
            new GenAIRequestOptions { Regex = "[A-Z]+ [a-z]+\\." });

        Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Eos));
        Assert.That(result.Text, Does.Match(new Regex("^[A-Z]+ [a-z]+\\.$")));
    }

    [Test]
    public async Task GenerationOptions_JsonSchema_maps_onto_guidance()
    {
        const string Schema = """{"type":"object","properties":{"name":{"type":"string","maxLength":10},"age":{"type":"integer","minimum":0,"maximum":120}},"required":["name","age"],"additionalProperties":false}""";
        var result = await Shakespeare.Value.GenerateAsync("ROMEO:", new GenerationOptions { JsonSchema = Schema, DoSample = false, MaxNewTokens = 60 });

        using var json = System.Text.Json.JsonDocument.Parse(result.Text);
        Assert.Multiple(() =>
        {
            Assert.That(json.RootElement.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "name", "age" }));
            Assert.That(json.RootElement.GetProperty("name").GetString()!.Length, Is.LessThanOrEqualTo(10));
            Assert.That(json.RootElement.GetProperty("age").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Number));
        });
    }

    [Test]
    public void GenerationOptions_JsonSchema_beside_a_GenAI_constraint_is_refused()
    {
        var ex = Assert.ThrowsAsync<ArgumentException>(() => Shakespeare.Value.GenerateAsync(
            "ROMEO:", new GenerationOptions { AnyJson = true }, new GenAIRequestOptions { Regex = "a+" }));

        Assert.That(ex!.Message, Does.Contain("JsonSchema").And.Contain("not both"));
    }

    [Test]
    public void Two_constraints_at_once_are_refused()
    {
        var ex = Assert.ThrowsAsync<ArgumentException>(() => Shakespeare.Value.GenerateAsync(
            "ROMEO:", null, new GenAIRequestOptions { Regex = "a+", JsonSchema = "{}" }));

        Assert.That(ex!.Message, Does.Contain("JsonSchema").And.Contain("Regex"));
    }

    [Test]
    public void An_unknown_adapter_is_refused_naming_what_is_loaded()
    {
        var ex = Assert.ThrowsAsync<ArgumentException>(() => Shakespeare.Value.GenerateAsync(
            "ROMEO:", null, new GenAIRequestOptions { Adapter = "french" }));

        Assert.That(ex!.Message, Does.Contain("french").And.Contain("no adapters"));
    }

    [Test]
    public void A_default_adapter_must_be_one_of_the_adapters()
    {
        var genAI = new GenAIOptions { DefaultAdapter = "x" };

        var ex = Assert.Throws<ArgumentException>(() => GenAIGenerator.Create(new Generation.GptOptions { ModelPath = Fixtures.TinyShakespeare }, genAI));

        Assert.That(ex!.Message, Does.Contain("DefaultAdapter"));
    }
}
