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
            // Closed loop, 3 clients: staggering requests of max(2, 6 * (i + 1) / 3) = 2, 4, 6 tokens, then 2 x 6 each.
            Assert.That(rows, Is.EqualTo(new[]
            {
                "Burst 1 on 6 1", "Burst 1 off 6 1", "Burst 3 off 18 3", "Burst 3 on 18 3",
                "ClosedLoop 1 on 18 2", "ClosedLoop 1 off 18 2", "ClosedLoop 3 off 48 6", "ClosedLoop 3 on 48 6",
            }));
            Assert.That(report.Results.All(r => r.TimeToFirstTokenP50Ms > 0 && r.TimeToFirstTokenP99Ms >= r.TimeToFirstTokenP50Ms && r.AggregateTokensPerSecond > 0), Is.True);
            Assert.That(report.ToJson(), Does.Contain("\"load\": \"closedLoop\""));
        });
    }
}
