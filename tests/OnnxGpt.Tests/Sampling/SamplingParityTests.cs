using System.Text.Json;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Sampling;

/// <summary>
/// The stages reproduce Hugging Face transformers' logits processors on the raw logits recorded in
/// tiny-shakespeare's reference.json: the same surviving ids, and their probabilities to 1e-5.
/// </summary>
[TestFixture]
public sealed class SamplingParityTests
{
    public sealed record Combo(string Context, string Name, int[] PromptIds, float[] RawLogits, string[] Processors, int[] Allowed, float[] Probs)
    {
        public override string ToString() => $"{Context}/{Name}";
    }

    private static IEnumerable<TestCaseData> Combos()
    {
        using var doc = ReferenceData.Load(TestPaths.TinyShakespeare);
        var processors = doc.RootElement.GetProperty("processors");
        var combos = processors.GetProperty("combos");
        foreach (var context in processors.GetProperty("contexts").EnumerateObject())
        {
            var prompt = context.Value.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var raw = context.Value.GetProperty("raw_logits").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            foreach (var result in context.Value.GetProperty("results").EnumerateObject())
            {
                var steps = combos.GetProperty(result.Name).EnumerateArray().Select(e => e.GetString()!).ToArray();
                var combo = new Combo(
                    context.Name,
                    result.Name,
                    prompt,
                    raw,
                    steps,
                    [.. result.Value.GetProperty("allowed").EnumerateArray().Select(e => e.GetInt32())],
                    [.. result.Value.GetProperty("probs").EnumerateArray().Select(e => e.GetSingle())]);
                yield return new TestCaseData(combo).SetName($"Parity_{context.Name}_{result.Name}");
            }
        }
    }

    [Test]
    public void Every_recorded_combo_is_covered()
    {
        using var doc = ReferenceData.Load(TestPaths.TinyShakespeare);
        var processors = doc.RootElement.GetProperty("processors");
        var recorded = processors.GetProperty("contexts").EnumerateObject().Sum(c => c.Value.GetProperty("results").EnumerateObject().Count());

        Assert.Multiple(() =>
        {
            Assert.That(Combos().Count(), Is.EqualTo(recorded));
            Assert.That(recorded, Is.EqualTo(32), "2 contexts x 16 combos");
        });
    }

    [TestCaseSource(nameof(Combos))]
    public void Stages_match_transformers(Combo combo)
    {
        var logits = (float[])combo.RawLogits.Clone();
        foreach (var stage in combo.Processors.Select(Build))
        {
            stage.Apply(logits, combo.PromptIds);
        }

        var allowed = Enumerable.Range(0, logits.Length).Where(i => !float.IsNegativeInfinity(logits[i])).ToArray();
        var max = allowed.Max(i => logits[i]);
        var sum = allowed.Sum(i => Math.Exp(logits[i] - max));
        var probs = allowed.Select(i => (float)(Math.Exp(logits[i] - max) / sum)).ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(allowed, Is.EqualTo(combo.Allowed));
            Assert.That(probs, Is.EqualTo(combo.Probs).Within(1e-5f));
        });
    }

    [Test]
    public void Top_k_keeps_ties_with_the_kth_score()
    {
        float[] logits = [1, 3, 2, 3, 2, 0];

        new TopKStage(3).Apply(logits, []);

        Assert.That(logits, Is.EqualTo(new[] { float.NegativeInfinity, 3, 2, 3, 2, float.NegativeInfinity }));
    }

    [Test]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_scores_once_per_token()
    {
        float[] logits = [2, -2, 4, 1];

        new RepetitionPenaltyStage(2).Apply(logits, [0, 1, 1, 0]);

        Assert.That(logits, Is.EqualTo(new[] { 1f, -4f, 4f, 1f }));
    }

    [TestCase(0f)]
    [TestCase(-1f)]
    [TestCase(float.NaN)]
    public void Invalid_temperature_names_the_setting(float t) =>
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new TemperatureStage(t))!.ParamName, Is.EqualTo("temperature"));

    [TestCase(0f)]
    [TestCase(1.01f)]
    public void Invalid_top_p_names_the_setting(float p) =>
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => _ = new TopPStage(p))!.ParamName, Is.EqualTo("topP"));

    private static ISamplingStage Build(string step)
    {
        var colon = step.IndexOf(':', StringComparison.Ordinal);
        using var args = JsonDocument.Parse(step[(colon + 1)..]);
        var a = args.RootElement;
        return step[..colon] switch
        {
            "TemperatureLogitsWarper" => new TemperatureStage(a.GetProperty("temperature").GetSingle()),
            "TopKLogitsWarper" => new TopKStage(a.GetProperty("top_k").GetInt32()),
            "TopPLogitsWarper" => new TopPStage(a.GetProperty("top_p").GetSingle()),
            "MinPLogitsWarper" => new MinPStage(a.GetProperty("min_p").GetSingle()),
            "RepetitionPenaltyLogitsProcessor" => new RepetitionPenaltyStage(a.GetProperty("penalty").GetSingle()),
            "TypicalLogitsWarper" => new TypicalPStage(a.GetProperty("mass").GetSingle()),
            "NoRepeatNGramLogitsProcessor" => new NoRepeatNGramStage(a.GetProperty("ngram_size").GetInt32()),
            var other => throw new ArgumentException(other),
        };
    }
}
