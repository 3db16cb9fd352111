using System.Numerics.Tensors;

namespace OnnxGpt.Sampling;

/// <summary>Order statistics and softmax over score spans, without allocating.</summary>
internal static class Selection
{
    /// <summary>Returns the k-th largest value (1-based), reordering <paramref name="values"/> (quickselect, linear on average).</summary>
    public static float KthLargest(Span<float> values, int k)
    {
        var target = k - 1;
        var lo = 0;
        var hi = values.Length - 1;
        while (lo < hi)
        {
            var pivot = values[lo + ((hi - lo) / 2)];
            var i = lo;
            var j = hi;
            while (i <= j)
            {
                while (values[i] > pivot)
                {
                    i++;
                }

                while (values[j] < pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (values[i], values[j]) = (values[j], values[i]);
                    i++;
                    j--;
                }
            }

            if (target <= j)
            {
                hi = j;
            }
            else if (target >= i)
            {
                lo = i;
            }
            else
            {
                return values[target];
            }
        }

        return values[target];
    }

    /// <summary>The largest value.</summary>
    public static float Max(ReadOnlySpan<float> values)
    {
        var max = float.NegativeInfinity;
        foreach (var v in values)
        {
            if (v > max)
            {
                max = v;
            }
        }

        return max;
    }

    /// <summary>Writes softmax(<paramref name="logits"/>) to <paramref name="probabilities"/> in float32, as PyTorch does.</summary>
    public static void Softmax(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        var max = Max(logits);
        var sum = 0f;
        for (var i = 0; i < logits.Length; i++)
        {
            var e = float.IsNegativeInfinity(logits[i]) ? 0f : MathF.Exp(logits[i] - max);
            probabilities[i] = e;
            sum += e;
        }

        var inv = 1f / sum;
        for (var i = 0; i < probabilities.Length; i++)
        {
            probabilities[i] *= inv;
        }
    }

    /// <summary>log(sum(exp(logits))): NaN when a score is NaN, negative infinity when every score is removed.</summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        var exps = new float[logits.Length];
        var sum = ExpSum(logits, exps, out var max);
        return float.IsNaN(max) ? double.NaN : float.IsNegativeInfinity(max) ? double.NegativeInfinity : max + Math.Log(sum);
    }

    /// <summary>
    /// Writes <c>exp(logits - max)</c> to <paramref name="exps"/> (vectorized, float) and returns its sum, with the max:
    /// NaN max when a score is NaN, negative infinity when every score is removed (the sum is then 0).
    /// The sampler and the distribution API both use it, so their log-probabilities agree exactly.
    /// </summary>
    public static double ExpSum(ReadOnlySpan<float> logits, Span<float> exps, out float max)
    {
        max = TensorPrimitives.Max(logits);
        if (float.IsNaN(max) || float.IsNegativeInfinity(max))
        {
            return 0;
        }

        TensorPrimitives.Subtract(logits, max, exps);
        TensorPrimitives.Exp(exps, exps);
        return TensorPrimitives.Sum(exps);
    }
}
