using NUnit.Framework;

namespace OnnxGpt.Cli.Tests;

/// <summary>The soak report's summary line: growth percentages keep one sign.</summary>
public sealed class SoakReportTests
{
    [TestCase(-0.01, 0.04, "working set end vs after warm-up: 0.0% (0.0% less the cache pool)")]
    [TestCase(2.345, -1.25, "working set end vs after warm-up: +2.3% (-1.3% less the cache pool)")]
    [TestCase(0.0, -0.0, "working set end vs after warm-up: 0.0% (0.0% less the cache pool)")]
    public void Growth_prints_one_sign_and_zero_without_one(double workingSet, double outsidePool, string expected)
    {
        var report = new SoakReport(
            Concurrency: 2, RequestsStarted: 4, Completed: 4, Cancelled: 0, UnexpectedFailures: 0,
            FailuresByReason: new Dictionary<string, int>(), FinishReasons: new Dictionary<string, int> { ["Length"] = 4 },
            TokensGenerated: 64, Seconds: 1, TimeToFirstTokenP50Ms: 1, TimeToFirstTokenP99Ms: 2, PerTokenP50Ms: 1, PerTokenP99Ms: 2,
            Memory: [], WorkingSetGrowthPercent: workingSet, GrowthOutsideCachePoolPercent: outsidePool, CachesStillRented: 0);

        Assert.That(report.ToTable(), Does.Contain(expected + "; caches still rented: 0"));
    }
}
