using OnnxGpt.Generation;
using OnnxGpt.Tests.Sampling;

namespace OnnxGpt.Tests.Generation.Speculation;

/// <summary>
/// Sampling with speculation keeps the output distribution: on the embedded model, the token at a position reached
/// through verified drafts is distributed as without speculation (two-sample chi-square test of homogeneity over
/// seeded runs, bins with fewer than 10 draws in both samples pooled, failing above the 0.999 quantile).
/// </summary>
[TestFixture]
public sealed class SpeculativeSamplingTests
{
    [Test]
    public async Task The_token_distribution_at_a_drafted_position_is_unchanged()
    {
        const int Runs = 800;
        const int Position = 3;
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);

        // A repetitive prompt, so that prompt lookup drafts and many drafts are kept (and many are not).
        const string Prompt = "ROMEO:\nO Romeo, Romeo! wherefore art thou Romeo?\nROMEO:\nO Romeo, Romeo!";
        var plain = new int[model.Info.VocabularySize];
        var speculative = new int[model.Info.VocabularySize];
        var drafted = 0;
        var accepted = 0;
        for (var run = 0; run < Runs; run++)
        {
            var options = new GenerationOptions { DoSample = true, Temperature = 1.0f, TopK = 50, MaxNewTokens = Position + 1 };
            options.Seed = run;
            plain[(await generator.GenerateAsync(Prompt, options)).TokenIds[Position]]++;
            options.Seed = 1_000_000 + run;
            options.PromptLookupTokens = 4;
            var result = await generator.GenerateAsync(Prompt, options);
            speculative[result.TokenIds[Position]]++;
            drafted += result.DraftedTokenCount;
            accepted += result.AcceptedDraftTokenCount;
        }

        var (statistic, degrees) = Homogeneity(plain, speculative);
        var critical = ChiSquare.Quantile999(degrees);
        TestContext.Out.WriteLine($"drafted {drafted}, accepted {accepted}; chi-square {statistic:F2}, df {degrees}, 0.999 quantile {critical:F2}");
        Assert.Multiple(() =>
        {
            Assert.That(accepted, Is.GreaterThan(Runs / 20), "drafts were kept");
            Assert.That(accepted, Is.LessThan(drafted), "drafts were rejected too");
            Assert.That(degrees, Is.GreaterThanOrEqualTo(3));
            Assert.That(statistic, Is.LessThan(critical));
        });
    }

    private static (double Statistic, int DegreesOfFreedom) Homogeneity(int[] a, int[] b)
    {
        double na = a.Sum(), nb = b.Sum();
        var bins = new List<(double A, double B)>();
        double pooledA = 0, pooledB = 0;
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] + b[i] >= 10)
            {
                bins.Add((a[i], b[i]));
            }
            else
            {
                pooledA += a[i];
                pooledB += b[i];
            }
        }

        if (pooledA + pooledB > 0)
        {
            bins.Add((pooledA, pooledB));
        }

        var statistic = 0.0;
        foreach (var (x, y) in bins)
        {
            var total = x + y;
            var ea = total * na / (na + nb);
            var eb = total * nb / (na + nb);
            statistic += ((x - ea) * (x - ea) / ea) + ((y - eb) * (y - eb) / eb);
        }

        return (statistic, bins.Count - 1);
    }
}
