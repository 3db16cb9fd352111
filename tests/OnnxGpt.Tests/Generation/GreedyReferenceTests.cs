using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

/// <summary>Greedy generation through the public API reproduces Hugging Face transformers' ids exactly.</summary>
[TestFixture]
public sealed class GreedyReferenceTests
{
    private static readonly Dictionary<string, string> Models = new()
    {
        ["tiny-shakespeare"] = TestPaths.TinyShakespeare,
        ["tiny-llama-shakespeare"] = TestPaths.Fixture("tiny-llama-shakespeare"),
        ["gpt2-tiny"] = TestPaths.Fixture("gpt2-tiny"),
        ["gpt2-tiny-combined"] = TestPaths.Fixture("gpt2-tiny-combined"),
        ["gpt2-tiny-nocache"] = TestPaths.Fixture("gpt2-tiny-nocache"),
        ["gpt2-tiny-merged"] = TestPaths.Fixture("gpt2-tiny-merged"),
        ["gpt2-tiny-split"] = TestPaths.Fixture("gpt2-tiny-split"),
        ["tiny-shakespeare-dynamo"] = TestPaths.Fixture("tiny-shakespeare-dynamo"),
    };

    private readonly Dictionary<string, GptModel> _loaded = [];

    private static IEnumerable<TestCaseData> TextCases() =>
        new[] { "tiny-shakespeare", "tiny-llama-shakespeare", "tiny-shakespeare-dynamo" }
            .SelectMany(m => ReferenceData.Greedy(m, Models[m]))
            .Select(c => new TestCaseData(c).SetName($"Greedy_text_{c.Model}_{c.Name}"));

    private static IEnumerable<TestCaseData> IdCases() =>
        new[] { "gpt2-tiny", "gpt2-tiny-combined", "gpt2-tiny-nocache", "gpt2-tiny-merged", "gpt2-tiny-split" }
            .SelectMany(m => ReferenceData.Greedy(m, Models[m]))
            .Select(c => new TestCaseData(c).SetName($"Greedy_ids_{c.Model}_{c.Name}"));

    [OneTimeTearDown]
    public void TearDown()
    {
        foreach (var model in _loaded.Values)
        {
            model.Dispose();
        }
    }

    [TestCaseSource(nameof(TextCases))]
    public async Task Text_prompt_reproduces_reference_greedy_ids(ReferenceData.GreedyCase c)
    {
        var generator = GptGenerator.Create(Model(c.Model));
        var result = await generator.GenerateAsync(c.Prompt!, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });

        Assert.Multiple(() =>
        {
            Assert.That(result.PromptTokenIds, Is.EqualTo(c.PromptIds), "prompt ids");
            Assert.That(result.TokenIds, Is.EqualTo(c.GreedyIds), "greedy ids");
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Length));
        });
    }

    [TestCaseSource(nameof(IdCases))]
    public async Task Id_prompt_reproduces_reference_greedy_ids(ReferenceData.GreedyCase c)
    {
        var generator = GptGenerator.Create(Model(c.Model));
        var result = await generator.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });

        Assert.That(result.TokenIds, Is.EqualTo(c.GreedyIds));
    }

    [Test]
    public async Task Streamed_tokens_are_produced_one_per_step_and_carry_the_result_last()
    {
        var generator = GptGenerator.Create(Model("tiny-shakespeare"));
        var tokens = new List<GeneratedToken>();
        await foreach (var token in generator.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 8 }))
        {
            tokens.Add(token);
        }

        Assert.Multiple(() =>
        {
            Assert.That(tokens.Select(t => t.Index), Is.EqualTo(Enumerable.Range(0, 8)));
            Assert.That(tokens.Take(7).All(t => t.Result is null), Is.True);
            Assert.That(tokens[^1].Result, Is.Not.Null);
            Assert.That(string.Concat(tokens.Select(t => t.Text)), Is.EqualTo(tokens[^1].Result!.Text));
            Assert.That(tokens[^1].Result!.Text, Is.EqualTo(Model("tiny-shakespeare").Decode(tokens.Select(t => t.Id))));
        });
    }

    private GptModel Model(string name)
    {
        if (!_loaded.TryGetValue(name, out var model))
        {
            _loaded[name] = model = GptModel.Load(Models[name]);
        }

        return model;
    }
}
