namespace OnnxGpt.Bench.Tests;

public sealed class ColdRunBenchmarkTests
{
    [Test]
    public void Median_takes_the_middle_value_or_the_mean_of_the_middle_two()
    {
        Assert.That(ColdRunBenchmark.Median([3.0, 1.0, 2.0]), Is.EqualTo(2.0));
        Assert.That(ColdRunBenchmark.Median([4.0, 1.0, 3.0, 2.0]), Is.EqualTo(2.5));
    }

    [Test]
    public async Task A_process_is_timed_from_its_start_to_its_first_output_and_from_first_to_last_output_with_its_environment()
    {
        // A stand-in for onnxgpt generate: three "tokens" after 200 ms, COLD_GAP seconds apart (0.1 unless the configuration sets it).
        const string Script = "g=${COLD_GAP:-0.1}; sleep 0.2; printf a; sleep $g; printf b; sleep $g; printf c";
        var configuration = new ColdRunConfiguration("slow", new Dictionary<string, string> { ["COLD_GAP"] = "0.4" });

        var report = await ColdRunBenchmark.RunAsync("/bin/sh", ["-c", Script], "model", "prompt", 3, 1, [configuration], null, CancellationToken.None);

        var (fast, slow) = (report.Results[0], report.Results[1]);
        Assert.That(fast.Label, Is.EqualTo("default"));
        Assert.That(slow.Label, Is.EqualTo("slow"));
        Assert.That(slow.StartToFirstTokenMs, Is.InRange(180, 1500));
        // Two tokens after the first over 0.2 s and over 0.8 s (a loaded machine only sleeps longer: the upper bounds hold).
        Assert.That(fast.DecodeTokensPerSecond, Is.InRange(3.0, 10.5));
        Assert.That(slow.DecodeTokensPerSecond, Is.InRange(1.2, 2.6));
        Assert.That(slow.ProcessMs, Is.GreaterThanOrEqualTo(slow.StartToFirstTokenMs + 780));
        Assert.That(report.Command, Is.EqualTo("generate -m model prompt -n 3 --min-new-tokens 3"));
    }

    [Test]
    public void A_process_that_fails_fails_the_benchmark_with_its_exit_code()
    {
        var ex = Assert.ThrowsAsync<InvalidOperationException>(() => ColdRunBenchmark.RunAsync("/bin/sh", ["-c", "printf a; exit 3"], "model", "prompt", 3, 1, [], null, CancellationToken.None));

        Assert.That(ex!.Message, Does.Contain("exited with 3"));
    }
}
