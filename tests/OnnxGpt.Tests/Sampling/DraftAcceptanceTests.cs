using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Sampling;

/// <summary>
/// The speculative-sampling rule (keep a point-mass draft with probability p(draft), else draw from
/// normalize(max(0, p - q))) leaves the sampler's distribution unchanged: seeded draws with a draft follow the
/// pipeline's probabilities by Pearson's chi-square test (as <see cref="TokenSamplerTests"/> checks plain draws), and
/// the test rejects a rule that always keeps the draft's chance doubled.
/// </summary>
[TestFixture]
public sealed class DraftAcceptanceTests
{
    private const int Draws = 20_000;

    [TestCase(0)]
    [TestCase(3)]
    [TestCase(8)]
    public void Draws_with_a_draft_follow_the_pipeline_probabilities(int draft)
    {
        var raw = Logits(40);
        var options = new GenerationOptions { DoSample = true, Temperature = 0.9f, TopK = 30, TopP = 0.97f, Seed = 7 };
        var sampler = TokenSampler.Create(options);
        var counts = new int[raw.Length];
        var work = new float[raw.Length];
        for (var i = 0; i < Draws; i++)
        {
            raw.CopyTo(work, 0);
            counts[sampler.Next(work, [], draft, out _)]++;
        }

        var final = (float[])raw.Clone();
        TokenSampler.Create(options).Process(final, []);
        var expected = Probabilities(final);

        // The power check: a rule that kept the draft twice as often as it should.
        var wrong = (double[])expected.Clone();
        wrong[draft] = Math.Min(1, expected[draft] * 2);
        var scale = (1 - wrong[draft]) / (1 - expected[draft]);
        for (var i = 0; i < wrong.Length; i++)
        {
            wrong[i] = i == draft ? wrong[i] : wrong[i] * scale;
        }

        var (statistic, degrees) = ChiSquare.GoodnessOfFit(counts, expected, Draws);
        var (wrongStatistic, wrongDegrees) = ChiSquare.GoodnessOfFit(counts, wrong, Draws);
        TestContext.Out.WriteLine($"draft {draft} (p {expected[draft]:F4}): chi-square {statistic:F2}, df {degrees}, 0.999 quantile {ChiSquare.Quantile999(degrees):F2}; doubled draft {wrongStatistic:F1}");
        Assert.Multiple(() =>
        {
            Assert.That(counts.Where((c, i) => expected[i] == 0).Sum(), Is.Zero, "no removed token is ever drawn");
            Assert.That(degrees, Is.GreaterThanOrEqualTo(5));
            Assert.That(statistic, Is.LessThan(ChiSquare.Quantile999(degrees)));
            Assert.That(wrongStatistic, Is.GreaterThan(ChiSquare.Quantile999(wrongDegrees)), "the test can reject a wrong rule");
        });
    }

    [Test]
    public void Greedy_ignores_the_draft_and_takes_the_most_likely_token()
    {
        var raw = Logits(40);
        var sampler = TokenSampler.Create(new GenerationOptions { DoSample = false });
        var best = TokenSampler.ArgMax(raw);
        Assert.That(sampler.Next((float[])raw.Clone(), [], (best + 1) % raw.Length, out _), Is.EqualTo(best));
    }

    /// <summary>Fixed, uneven scores: a few likely tokens and a long tail.</summary>
    private static float[] Logits(int count)
    {
        var logits = new float[count];
        for (var i = 0; i < count; i++)
        {
            logits[i] = (float)(3.0 * Math.Exp(-i / 6.0) + Math.Sin(i * 1.7));
        }

        return logits;
    }

    private static double[] Probabilities(float[] final)
    {
        var max = final.Max();
        var exps = final.Select(x => float.IsNegativeInfinity(x) ? 0 : Math.Exp(x - max)).ToArray();
        var sum = exps.Sum();
        return [.. exps.Select(e => e / sum)];
    }
}
