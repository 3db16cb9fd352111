using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Constraints;

/// <summary>
/// Constrained generation on the embedded model, which knows no JSON: every output of every schema validates, greedy
/// and seeded, and the greedy output equals a brute-force oracle that checks every token of the vocabulary on its own.
/// </summary>
[TestFixture]
public sealed class JsonGenerationTests : TinyShakespeareFixture
{
    private const int MaxNewTokens = 120;

    [TestCaseSource(typeof(SchemaBattery), nameof(SchemaBattery.Cases))]
    public async Task Greedy_output_validates_ends_with_Stop_and_equals_the_brute_force_oracle(string schema)
    {
        var options = new GenerationOptions { JsonSchema = schema, DoSample = false, MaxNewTokens = MaxNewTokens };
        var result = await Generator.GenerateAsync("ROMEO:", options);
        TestContext.Out.WriteLine(result.Text);

        JsonAssert.Valid(result.Text, schema);
        Assert.Multiple(() =>
        {
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Stop));
            Assert.That(result.TokenIds, Is.EqualTo(ConstrainedOracle.Greedy(Model, schema, result.PromptTokenIds, MaxNewTokens)));
        });
    }

    [TestCaseSource(typeof(SchemaBattery), nameof(SchemaBattery.Cases))]
    public async Task Seeded_samples_validate_and_repeat_for_the_same_seed(string schema)
    {
        for (var seed = 1; seed <= 3; seed++)
        {
            var options = new GenerationOptions { JsonSchema = schema, DoSample = true, Temperature = 1.2f, TopP = 0.95f, Seed = seed, MaxNewTokens = MaxNewTokens };
            var first = await Generator.GenerateAsync("JULIET:", options);
            var again = await Generator.GenerateAsync("JULIET:", options);
            JsonAssert.Valid(first.Text, schema);
            Assert.Multiple(() =>
            {
                Assert.That(first.FinishReason, Is.EqualTo(FinishReason.Stop), first.Text);
                Assert.That(again.TokenIds, Is.EqualTo(first.TokenIds));
            });
        }
    }

    [Test]
    public async Task Any_json_mode_produces_one_whole_value()
    {
        foreach (var prompt in new[] { "ROMEO:", "KING HENRY:", "O" })
        {
            var result = await Generator.GenerateAsync(prompt, new GenerationOptions { AnyJson = true, DoSample = false, MaxNewTokens = 60 });
            JsonAssert.Valid(result.Text, null);
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Stop), result.Text);
        }
    }

    [Test]
    public async Task A_short_token_budget_still_closes_the_value()
    {
        var schema = SchemaBattery.Schemas.Single(s => s.Name == "nested").Schema;
        foreach (var budget in new[] { 30, 40, 60 })
        {
            var result = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { JsonSchema = schema, DoSample = false, MaxNewTokens = budget });
            JsonAssert.Valid(result.Text, schema);
            Assert.That(result.GeneratedTokenCount, Is.LessThanOrEqualTo(budget));
        }
    }
}
