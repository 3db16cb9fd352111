using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Sampling;

[TestFixture]
public sealed class TokenSamplerTests
{
    private static (int[] PromptIds, float[] RawLogits) Context(string name)
    {
        using var doc = ReferenceData.Load(TestPaths.TinyShakespeare);
        var context = doc.RootElement.GetProperty("processors").GetProperty("contexts").GetProperty(name);
        return (
            [.. context.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
            [.. context.GetProperty("raw_logits").EnumerateArray().Select(e => e.GetSingle())]);
    }

    private static double[] Probabilities(float[] logits)
    {
        var max = logits.Max();
        var e = logits.Select(l => float.IsNegativeInfinity(l) ? 0.0 : Math.Exp(l - max)).ToArray();
        var sum = e.Sum();
        return [.. e.Select(x => x / sum)];
    }

    private static string[] StageNames(GenerationOptions options) =>
        [.. TokenSampler.Create(options, 2, [0]).Stages.Select(s => s.GetType().Name)];

    [Test]
    public void Stages_run_in_hugging_face_order_whatever_order_the_options_are_set_in()
    {
        var options = new GenerationOptions
        {
            TypicalP = 0.9f, MinP = 0.05f, TopP = 0.9f, TopK = 40, Temperature = 0.7f, DoSample = true,
            LogitBias = new Dictionary<int, float> { [1] = 1 }, MinNewTokens = 2, BannedTokenSequences = [[3]],
            NoRepeatNGramSize = 3, PresencePenalty = 0.1f, RepetitionPenalty = 1.2f,
            CustomStages = [new TemperatureStage(2f)],
        };

        Assert.That(StageNames(options), Is.EqualTo(new[]
        {
            nameof(RepetitionPenaltyStage), nameof(FrequencyPresencePenaltyStage), nameof(NoRepeatNGramStage), nameof(BannedSequencesStage),
            nameof(MinNewTokensStage), nameof(LogitBiasStage), nameof(TemperatureStage) /* the custom one */, nameof(TemperatureStage),
            nameof(TopKStage), nameof(TopPStage), nameof(MinPStage), nameof(TypicalPStage),
        }));
    }

    [Test]
    public void Greedy_runs_only_the_processors_and_custom_stages()
    {
        var custom = new TopKStage(5);
        var options = new GenerationOptions { DoSample = false, Temperature = 0.7f, TopK = 40, TopP = 0.9f, MinP = 0.1f, TypicalP = 0.5f, RepetitionPenalty = 1.3f, CustomStages = [custom] };
        var temperatureZero = new GenerationOptions { DoSample = true, Temperature = 0f, TopK = 40, LogitBias = new Dictionary<int, float> { [1] = 1 } };

        Assert.Multiple(() =>
        {
            Assert.That(StageNames(options), Is.EqualTo(new[] { nameof(RepetitionPenaltyStage), nameof(TopKStage) }));
            // A built-in stage is copied per request (its scratch is its own); the settings are the same.
            Assert.That(TokenSampler.Create(options).Stages[1], Is.Not.SameAs(custom).And.InstanceOf<TopKStage>().With.Property(nameof(TopKStage.TopK)).EqualTo(5));
            Assert.That(StageNames(temperatureZero), Is.EqualTo(new[] { nameof(LogitBiasStage) }));
            Assert.That(TokenSampler.Create(temperatureZero).IsSampling, Is.False);
        });
    }

    [Test]
    public void Settings_that_are_off_add_no_stage()
    {
        var options = new GenerationOptions
        {
            DoSample = true, Temperature = 1, TopK = 0, TopP = 1, MinP = 0, TypicalP = 1, RepetitionPenalty = 1,
            FrequencyPenalty = 0, PresencePenalty = 0, NoRepeatNGramSize = 0, MinNewTokens = 0,
            LogitBias = new Dictionary<int, float>(), BannedTokenSequences = [], CustomStages = [],
        };

        Assert.That(StageNames(options), Is.Empty);
    }

    [Test]
    public void Min_new_tokens_needs_an_eos_to_act_on()
    {
        Assert.That(TokenSampler.Create(new GenerationOptions { MinNewTokens = 3 }, 2, []).Stages, Is.Empty);
    }

    [Test]
    public void Greedy_logprob_is_under_the_processed_unwarped_distribution()
    {
        var (prompt, raw) = Context("king");
        var sampler = TokenSampler.Create(new GenerationOptions { DoSample = false, Temperature = 0.5f, TopK = 3, RepetitionPenalty = 1.3f }, prompt.Length);
        var logits = (float[])raw.Clone();

        var token = sampler.Next(logits, prompt, out var logprob);

        var processed = (float[])raw.Clone();
        new RepetitionPenaltyStage(1.3f).Apply(processed, prompt);
        var p = Probabilities(processed);
        Assert.Multiple(() =>
        {
            Assert.That(token, Is.EqualTo(Array.IndexOf(p, p.Max())));
            Assert.That(logprob, Is.EqualTo(Math.Log(p[token])).Within(1e-5));
        });
    }

    [Test]
    public void Sampled_logprob_is_under_the_final_distribution()
    {
        var (prompt, raw) = Context("blank");
        var options = new GenerationOptions { DoSample = true, Temperature = 0.8f, TopK = 50, TopP = 0.95f, Seed = 3 };
        var logits = (float[])raw.Clone();

        var token = TokenSampler.Create(options).Next(logits, prompt, out var logprob);

        var final = (float[])raw.Clone();
        foreach (var stage in TokenSampler.Create(options).Stages)
        {
            stage.Apply(final, prompt);
        }

        Assert.That(logprob, Is.EqualTo(Math.Log(Probabilities(final)[token])).Within(1e-5));
    }

    [Test]
    public void Top_lists_the_highest_finite_scores_with_ties_by_lower_id()
    {
        float[] logits = [1, 5, float.NegativeInfinity, 5, 3, 2];
        var three = new int[3];
        var ten = new int[10];

        var n3 = TokenSampler.Top(logits, three);
        var n10 = TokenSampler.Top(logits, ten);

        Assert.Multiple(() =>
        {
            Assert.That(three[..n3], Is.EqualTo(new[] { 1, 3, 4 }));
            Assert.That(ten[..n10], Is.EqualTo(new[] { 1, 3, 4, 5, 0 }), "removed tokens never appear");
        });
    }

    [Test]
    public void Removing_every_token_is_an_error_not_a_silent_choice()
    {
        var sampler = TokenSampler.Create(new GenerationOptions { DoSample = false, BannedTokenSequences = [[0], [1]] });

        Assert.Throws<GptException>(() => sampler.Next(new float[] { 1, 2 }, []));
    }

    /// <summary>
    /// Draws the first token 20,000 times from the recorded logits (seeded, so the outcome is fixed) and compares the
    /// counts with the pipeline's probabilities by Pearson's chi-square test. Tokens expected fewer than 5 times are
    /// pooled into one bin; the degrees of freedom are the bins minus 1. The test fails when the statistic exceeds the
    /// 0.999 quantile of the chi-square distribution (Wilson-Hilferty approximation, z = 3.0902), a 1-in-1000 false alarm
    /// rate for a correct sampler. A sampler that ignored the temperature is rejected by the same test.
    /// </summary>
    [TestCase("king", 1.0f, 40, 1.0f)]
    [TestCase("blank", 0.8f, 50, 0.95f)]
    public void Observed_frequencies_match_the_pipeline_probabilities(string context, float temperature, int topK, float topP)
    {
        const int Draws = 20_000;
        var (prompt, raw) = Context(context);
        var options = new GenerationOptions { DoSample = true, Temperature = temperature, TopK = topK, TopP = topP, Seed = 20240601 };
        var sampler = TokenSampler.Create(options, prompt.Length, [0]);
        var counts = new int[raw.Length];
        var work = new float[raw.Length];
        for (var i = 0; i < Draws; i++)
        {
            raw.CopyTo(work, 0);
            counts[sampler.Next(work, prompt)]++;
        }

        var final = (float[])raw.Clone();
        sampler.Process(final, prompt);
        var expected = Probabilities(final);

        var (statistic, degreesOfFreedom) = ChiSquare.GoodnessOfFit(counts, expected, Draws);
        var critical = ChiSquare.Quantile999(degreesOfFreedom);

        // The same counts against the distribution at temperature 1.5 (a sampler that got the temperature wrong).
        var wrong = (float[])raw.Clone();
        TokenSampler.Create(new GenerationOptions { DoSample = true, Temperature = temperature * 1.5f, TopK = topK, TopP = topP }).Process(wrong, prompt);
        var (wrongStatistic, wrongDegrees) = ChiSquare.GoodnessOfFit(counts, Probabilities(wrong), Draws);

        TestContext.Out.WriteLine($"{context}: chi-square {statistic:F2}, df {degreesOfFreedom}, 0.999 quantile {critical:F2}; wrong distribution {wrongStatistic:F1} (df {wrongDegrees})");
        Assert.Multiple(() =>
        {
            Assert.That(counts.Where((c, i) => expected[i] == 0).Sum(), Is.Zero, "no removed token is ever drawn");
            Assert.That(degreesOfFreedom, Is.GreaterThanOrEqualTo(5));
            Assert.That(statistic, Is.LessThan(critical), $"chi-square {statistic:F2} with {degreesOfFreedom} degrees of freedom; 0.999 quantile {critical:F2}");
            Assert.That(wrongStatistic, Is.GreaterThan(ChiSquare.Quantile999(wrongDegrees)), "the test has the power to reject a wrong distribution");
        });
    }

    [Test]
    public void Argmax_takes_the_first_of_tied_maxima_as_torch_does()
    {
        float[] logits = [1, 3, float.NegativeInfinity, 3, 2];
        var large = new float[50257];
        large[40000] = 5;
        large[12345] = 5;

        Assert.Multiple(() =>
        {
            Assert.That(TokenSampler.ArgMax(logits), Is.EqualTo(1));
            Assert.That(TokenSampler.ArgMax(large), Is.EqualTo(12345));
        });
    }
}
