using System.Globalization;

namespace OnnxGpt.Bench;

/// <summary>
/// How one run's decode steps spread: the median, the 90th percentile, the mean and the slowest, and how much of the
/// decode time went to slow steps (over twice the median). The decode rate is 1000 / <see cref="MeanMs"/>, so a mean far
/// above the median means a few steps cost most of the difference.
/// </summary>
public sealed record StepDistribution
{
    /// <summary>The median step, ms.</summary>
    public required double MedianMs { get; init; }

    /// <summary>The 90th-percentile step (nearest rank), ms.</summary>
    public required double P90Ms { get; init; }

    /// <summary>The mean step, ms.</summary>
    public required double MeanMs { get; init; }

    /// <summary>The slowest step, ms.</summary>
    public required double MaxMs { get; init; }

    /// <summary>Steps over twice the median.</summary>
    public required int SlowSteps { get; init; }

    /// <summary>The share of the decode time spent above the median in slow steps (0..1).</summary>
    public required double SlowShare { get; init; }

    /// <summary>The distribution of the decode steps <paramref name="steps"/>[1..] (index 0 is the prompt's run and is left out); null when there are none.</summary>
    /// <param name="steps">A run's step times, as <see cref="RunTrace.StepMs"/>.</param>
    /// <returns>The distribution, or null.</returns>
    public static StepDistribution? Of(IReadOnlyList<double> steps)
    {
        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count < 2)
        {
            return null;
        }

        var sorted = steps.Skip(1).Order().ToArray();
        var median = Statistics.Median(sorted);
        var total = sorted.Sum();
        var slow = sorted.Where(s => s > 2 * median).ToArray();
        return new StepDistribution
        {
            MedianMs = median,
            P90Ms = sorted[Math.Max(0, (int)Math.Ceiling(0.9 * sorted.Length) - 1)],
            MeanMs = total / sorted.Length,
            MaxMs = sorted[^1],
            SlowSteps = slow.Length,
            SlowShare = total > 0 ? slow.Sum(s => s - median) / total : 0,
        };
    }

    /// <summary>The distribution with each figure the median over several runs' distributions.</summary>
    /// <param name="runs">One distribution per run (at least one).</param>
    /// <returns>The combined distribution.</returns>
    public static StepDistribution Median(IReadOnlyList<StepDistribution> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        return new StepDistribution
        {
            MedianMs = Statistics.Median(runs.Select(r => r.MedianMs)),
            P90Ms = Statistics.Median(runs.Select(r => r.P90Ms)),
            MeanMs = Statistics.Median(runs.Select(r => r.MeanMs)),
            MaxMs = Statistics.Median(runs.Select(r => r.MaxMs)),
            SlowSteps = (int)Math.Round(Statistics.Median(runs.Select(r => (double)r.SlowSteps))),
            SlowShare = Statistics.Median(runs.Select(r => r.SlowShare)),
        };
    }

    /// <summary>One line, e.g. <c>steps ms: median 13.52  p90 14.10  mean 22.0  max 95.3; 12 slow (&gt;2x median) = 35% of decode time</c>.</summary>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"steps ms: median {MedianMs:F2}  p90 {P90Ms:F2}  mean {MeanMs:F2}  max {MaxMs:F1}; {SlowSteps} slow (>2x median) = {SlowShare * 100:F0}% of decode time");
}
