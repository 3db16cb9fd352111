using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Constraints;

/// <summary>
/// Constrained generation on the hub fixtures' real tokenizers (byte-level BPE: qwen3, llama3; SentencePiece-style with
/// byte fallback: gemma3, mistral) over tiny random graphs: every schema's output validates, greedy and seeded, ends
/// with Stop, and greedy ids equal the brute-force oracle (for the object and anyOf schemas; it checks the whole vocabulary each step).
/// </summary>
[TestFixture]
public sealed class HubJsonGenerationTests
{
    private const int MaxNewTokens = 120;

    private static readonly string[] Hubs = ["qwen3", "llama3", "gemma3", "mistral"];

    /// <summary>The schemas whose greedy output is also checked against the (slow) oracle on every hub.</summary>
    private static readonly string[] OracleSchemas = ["object", "anyOf"];

    private readonly Dictionary<string, (GptModel Model, GptGenerator Generator)> _models = [];

    [OneTimeTearDown]
    public void Unload()
    {
        foreach (var (model, _) in _models.Values)
        {
            model.Dispose();
        }
    }

    public static IEnumerable<TestCaseData> Cases() =>
        from hub in Hubs
        from schema in SchemaBattery.Schemas
        select new TestCaseData(hub, schema.Name, schema.Schema).SetArgDisplayNames(hub, schema.Name);

    [TestCaseSource(nameof(Cases))]
    public async Task Greedy_and_seeded_outputs_validate_and_end_with_Stop(string hub, string name, string schema)
    {
        var (model, generator) = Load(hub);
        var greedy = await generator.GenerateAsync("The answer:", new GenerationOptions { JsonSchema = schema, DoSample = false, MaxNewTokens = MaxNewTokens });
        TestContext.Out.WriteLine(greedy.Text);
        JsonAssert.Valid(greedy.Text, schema);
        Assert.That(greedy.FinishReason, Is.EqualTo(FinishReason.Stop), greedy.Text);
        if (OracleSchemas.Contains(name))
        {
            Assert.That(greedy.TokenIds, Is.EqualTo(ConstrainedOracle.Greedy(model, schema, greedy.PromptTokenIds, MaxNewTokens)), "greedy ids against the oracle");
        }

        for (var seed = 1; seed <= 2; seed++)
        {
            var options = new GenerationOptions { JsonSchema = schema, DoSample = true, Temperature = 1.0f, Seed = seed, MaxNewTokens = MaxNewTokens };
            var sampled = await generator.GenerateAsync("The answer:", options);
            JsonAssert.Valid(sampled.Text, schema);
            Assert.That(sampled.FinishReason, Is.EqualTo(FinishReason.Stop), sampled.Text);
        }
    }

    private (GptModel Model, GptGenerator Generator) Load(string hub)
    {
        if (!_models.TryGetValue(hub, out var loaded))
        {
            var model = GptModel.Load(new GptOptions { ModelPath = TestPaths.Hub(hub) });
            loaded = (model, GptGenerator.Create(model));
            _models[hub] = loaded;
        }

        return loaded;
    }
}
