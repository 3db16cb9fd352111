using System.Numerics.Tensors;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Sampling;

/// <summary>
/// The per-token vector kernels (written over Vector{T} so they run optimized from a cold start) against
/// TensorPrimitives, which they replaced, and a double-precision reference: every length around the vector width,
/// removed (negative infinity) scores, NaN and ties.
/// </summary>
[TestFixture]
public sealed class SelectionTests
{
    private static IEnumerable<int> Lengths() => [0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 65, 1000, 50257];

    private static float[] Scores(int length, int seed)
    {
        var random = new Random(seed);
        var scores = new float[length];
        for (var i = 0; i < length; i++)
        {
            scores[i] = (float)(random.NextDouble() * 40 - 20);
        }

        return scores;
    }

    [TestCaseSource(nameof(Lengths))]
    public void Max_and_argmax_match_TensorPrimitives(int length)
    {
        var scores = Scores(length, length);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Selection.MaxOrNaN(scores), Is.EqualTo(length == 0 ? float.NegativeInfinity : TensorPrimitives.Max(scores)));
            Assert.That(TokenSampler.ArgMax(scores), Is.EqualTo(length == 0 ? 0 : TensorPrimitives.IndexOfMax(scores)));
        }
    }

    [TestCaseSource(nameof(Lengths))]
    public void ExpSum_writes_exp_of_the_shifted_scores_and_their_sum(int length)
    {
        var scores = Scores(length, 7 * length + 1);
        if (length > 2)
        {
            scores[length / 2] = float.NegativeInfinity;
        }

        var exps = new float[length];
        var sum = Selection.ExpSum(scores, exps, out var max);

        var expected = new float[length];
        var expectedSum = 0.0;
        if (length > 0)
        {
            TensorPrimitives.Subtract(scores, TensorPrimitives.Max(scores), expected);
            TensorPrimitives.Exp(expected, expected);
            expectedSum = scores.Sum(s => Math.Exp(s - (double)scores.Max()));
        }

        using (Assert.EnterMultipleScope())
        {
            Assert.That(max, Is.EqualTo(length == 0 ? float.NegativeInfinity : scores.Max()));
            Assert.That(exps, Is.EqualTo(expected).Within(2e-7f));
            Assert.That(sum, Is.EqualTo(expectedSum).Within(1e-3).Percent);
            if (length > 2)
            {
                Assert.That(exps[length / 2], Is.Zero);
            }
        }
    }

    [TestCase(3)]
    [TestCase(40)]
    public void A_nan_score_makes_the_max_nan_and_argmax_its_index(int at)
    {
        var scores = Scores(64, 3);
        scores[at] = float.NaN;
        var exps = new float[scores.Length];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Selection.MaxOrNaN(scores), Is.NaN);
            Assert.That(TokenSampler.ArgMax(scores), Is.EqualTo(at));
            Assert.That(Selection.ExpSum(scores, exps, out var max), Is.Zero);
            Assert.That(max, Is.NaN);
        }
    }

    [Test]
    public void Ties_give_the_first_index_and_all_removed_gives_zero()
    {
        var scores = Enumerable.Repeat(float.NegativeInfinity, 37).ToArray();
        Assert.That(TokenSampler.ArgMax(scores), Is.Zero);
        Assert.That(Selection.ExpSum(scores, new float[37], out var none), Is.Zero);
        scores[21] = 2f;
        scores[34] = 2f;
        scores[5] = 1f;
        using (Assert.EnterMultipleScope())
        {
            Assert.That(none, Is.EqualTo(float.NegativeInfinity));
            Assert.That(TokenSampler.ArgMax(scores), Is.EqualTo(21));
        }
    }
}
