using System.Diagnostics;
using OnnxGpt.Bench;

namespace OnnxGpt.Bench.Tests;

/// <summary><c>bench concurrency</c>: bursts and a staggered closed loop, batching on and off, each counted exactly.</summary>
public sealed class ConcurrencyBenchmarkTests
{
    private static readonly string ModelDirectory = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");

    [Test]
    public async Task Bursts_and_the_closed_loop_run_every_count_with_batching_on_and_off_and_count_every_token()
    {
        var report = await ConcurrencyBenchmark.RunAsync(ModelDirectory, [1, 3], promptTokens: 4, newTokens: 6, intraOpThreads: 1, closedLoop: true, progress: null, CancellationToken.None);

        var rows = report.Results.Select(r => $"{r.Load} {r.Streams} {(r.Batching ? "on" : "off")} {r.GeneratedTokens} {r.MeasuredRequests}").ToArray();
        Assert.Multiple(() =>
        {
            // Closed loop, 3 clients: staggering requests of max(2, 6 * (i + 1) / 3) = 2, 4, 6 tokens, then 3 x 6 each.
            Assert.That(rows, Is.EqualTo(new[]
            {
                "Burst 1 on 6 1", "Burst 1 off 6 1", "Burst 3 off 18 3", "Burst 3 on 18 3",
                "ClosedLoop 1 on 24 3", "ClosedLoop 1 off 24 3", "ClosedLoop 3 off 66 9", "ClosedLoop 3 on 66 9",
            }));
            Assert.That(report.Results.All(r => r.TimeToFirstTokenP50Ms > 0 && r.TimeToFirstTokenP99Ms >= r.TimeToFirstTokenP50Ms && r.AggregateTokensPerSecond > 0), Is.True);
            Assert.That(report.Results.Where(r => r.Load == ConcurrencyLoad.Burst).Select(r => r.SteadyTokensPerSecond), Is.All.Null);
            // A closed loop's window may be empty (null) or hold no token when one client's short requests end before
            // another's start (tiny requests, a loaded machine); the counting itself is tested exactly below.
            Assert.That(report.Results.Where(r => r.Load == ConcurrencyLoad.ClosedLoop).Select(r => r.SteadyTokensPerSecond ?? 0), Is.All.GreaterThanOrEqualTo(0));
            Assert.That(report.Results.Where(r => r.Load == ConcurrencyLoad.ClosedLoop && r.Streams == 1).Select(r => r.SteadyTokensPerSecond ?? 0), Is.All.GreaterThan(0), "one client's window is its measured requests");
            Assert.That(report.ToJson(), Does.Contain("\"load\": \"closedLoop\"").And.Contain("\"steadyTokensPerSecond\": null"));
        });
    }

    [Test]
    public void The_steady_rate_counts_only_the_tokens_inside_its_window()
    {
        var f = Stopwatch.Frequency;
        var requests = new[]
        {
            new ConcurrencyBenchmark.RequestTiming(0, f / 2, 3 * f, 4, [f / 2, f, 2 * f, 3 * f]),
            new ConcurrencyBenchmark.RequestTiming(f, f, 4 * f, 3, [f, 3 * f, 4 * f]),
        };

        Assert.Multiple(() =>
        {
            // (1 s, 3 s]: 2 s, 3 s of the first and 3 s of the second: 3 tokens in 2 s.
            Assert.That(ConcurrencyBenchmark.SteadyTokensPerSecond(requests, f, 3 * f), Is.EqualTo(1.5).Within(1e-9));
            Assert.That(ConcurrencyBenchmark.SteadyTokensPerSecond(requests, 3 * f, 3 * f), Is.Null);
        });
    }
}
