namespace OnnxGpt.Tests.Sampling;

/// <summary>The chi-square test the sampler tests share: goodness of fit of draws to exact probabilities.</summary>
internal static class ChiSquare
{
    /// <summary>
    /// The statistic of <paramref name="counts"/> (out of <paramref name="draws"/>) against <paramref name="probabilities"/>,
    /// bins expecting fewer than 5 draws pooled into one, and its degrees of freedom.
    /// </summary>
    public static (double Statistic, int DegreesOfFreedom) GoodnessOfFit(int[] counts, double[] probabilities, int draws)
    {
        double statistic = 0, pooledObserved = 0, pooledExpected = 0;
        var bins = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            var e = probabilities[i] * draws;
            if (e >= 5)
            {
                statistic += (counts[i] - e) * (counts[i] - e) / e;
                bins++;
            }
            else
            {
                pooledObserved += counts[i];
                pooledExpected += e;
            }
        }

        if (pooledExpected > 0)
        {
            statistic += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) / pooledExpected;
            bins++;
        }

        return (statistic, bins - 1);
    }

    /// <summary>The 0.999 quantile of chi-square with k degrees of freedom (Wilson-Hilferty).</summary>
    public static double Quantile999(int k)
    {
        const double Z = 3.0902;
        var a = 2.0 / (9.0 * k);
        return k * Math.Pow(1 - a + (Z * Math.Sqrt(a)), 3);
    }
}
