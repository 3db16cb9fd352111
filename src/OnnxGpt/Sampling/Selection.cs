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

    /// <summary>
    /// The log of the softmax's denominator, <c>log(sum(exp(logits)))</c>, in double precision; negative infinity when
    /// every score is removed, NaN when a score is NaN. A token's log-probability is its score minus this.
    /// </summary>
    public static double LogSumExp(ReadOnlySpan<float> logits)
    {
        var sum = ExpSum(logits, out var max);
        if (double.IsNaN(sum))
        {
            return double.NaN;
        }

        return float.IsNegativeInfinity(max) ? double.NegativeInfinity : max + Math.Log(sum);
    }

    /// <summary>
    /// <c>sum(exp(logits - max))</c> in double precision, with the max; NaN when a score is NaN, 0 when every score is
    /// removed (max is then negative infinity).
    /// </summary>
    public static double ExpSum(ReadOnlySpan<float> logits, out float max)
    {
        max = Max(logits);
        if (float.IsNegativeInfinity(max))
        {
            foreach (var l in logits)
            {
                if (float.IsNaN(l))
                {
                    return double.NaN;
                }
            }

            return 0;
        }

        var sum = 0.0;
        foreach (var l in logits)
        {
            sum += float.IsNegativeInfinity(l) ? 0 : Math.Exp(l - max);
        }

        return sum;
    }
}
