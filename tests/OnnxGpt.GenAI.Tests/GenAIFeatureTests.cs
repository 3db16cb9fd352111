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

        var ex = Assert.Throws<ArgumentException>(() => GenAIGenerator.Create(new Hosting.GptOptions { ModelPath = Fixtures.TinyShakespeare }, genAI));

        Assert.That(ex!.Message, Does.Contain("DefaultAdapter"));
    }
}
