namespace OnnxGpt.Bench.Tests;

public sealed class StepDistributionTests
{
    [Test]
    public void A_few_slow_steps_show_as_a_mean_far_above_the_median()
    {
        // Index 0 is the prompt's run and is left out; ten decode steps, two of them slow.
        double[] steps = [99, 10, 10, 10, 10, 10, 10, 10, 10, 50, 30];

        var d = StepDistribution.Of(steps)!;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(d.MedianMs, Is.EqualTo(10));
            Assert.That(d.P90Ms, Is.EqualTo(30), "nearest rank: the 9th of 10 sorted steps");
            Assert.That(d.MeanMs, Is.EqualTo(16));
            Assert.That(d.MaxMs, Is.EqualTo(50));
            Assert.That(d.SlowSteps, Is.EqualTo(2));
            Assert.That(d.SlowShare, Is.EqualTo((40.0 + 20.0) / 160.0).Within(1e-12));
            Assert.That(d.ToString(), Is.EqualTo("steps ms: median 10.00  p90 30.00  mean 16.00  max 50.0; 2 slow (>2x median) = 38% of decode time"));
            Assert.That(StepDistribution.Of([5.0]), Is.Null);
        }
    }

    [Test]
    public void Several_runs_combine_figure_by_figure()
    {
        var a = StepDistribution.Of([0, 1, 1, 1, 9])!;
        var b = StepDistribution.Of([0, 2, 2, 2, 2])!;
        var c = StepDistribution.Of([0, 3, 3, 3, 30])!;

        var m = StepDistribution.Median([a, b, c]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(m.MedianMs, Is.EqualTo(2));
            Assert.That(m.MaxMs, Is.EqualTo(9));
            Assert.That(m.MeanMs, Is.EqualTo(3));
            Assert.That(m.SlowSteps, Is.EqualTo(1));
        }
    }

    [Test]
    public async Task Tight_loop_configurations_are_extra_rows_with_the_same_ids_and_step_times_when_asked()
    {
        var report = await BenchmarkRunner.RunAsync(new BenchmarkSettings
        {
            ModelDirectory = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare"),
            NewTokens = 12,
            WarmupRuns = 0,
            MeasuredRuns = 1,
            IntraOpThreads = 2,
            MeasureBandwidth = false,
            Implementations = BenchmarkImplementations.OrtTight | BenchmarkImplementations.OnnxGpt,
            IncludeStepTimes = true,
            SessionConfigEntries = new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0", ["session.dynamic_block_base"] = "4" },
            TightLoopConfigurations =
            [
                new Dictionary<string, string> { ["session.dynamic_block_base"] = "0", ["memory_pattern"] = "0" },
                new Dictionary<string, string> { ["threads"] = "1", ["cpu_mem_arena"] = "0" },
            ],
        });

        var ran = report.Implementations.Where(i => i.Status == ImplementationStatus.Ok).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(report.Implementations.Where(i => i.Status == ImplementationStatus.Failed).Select(i => i.Name + ": " + i.Note), Is.Empty);
            Assert.That(ran.Select(i => i.Name), Is.EqualTo(new[] { "OnnxGpt", "ORT tight", "ORT tight [session.dynamic_block_base=0, memory_pattern=0]", "ORT tight [threads=1, cpu_mem_arena=0]" }));
            Assert.That(ran.Select(i => i.TokenIds), Has.All.EqualTo(ran[0].TokenIds));
            Assert.That(report.IdsMatch, Is.True);
            Assert.That(ran.Select(i => i.StepTimesMs!.Count), Has.All.EqualTo(11));
            Assert.That(ran.Select(i => i.Steps!.MedianMs), Has.All.GreaterThan(0));
            Assert.That(report.Threading, Is.EqualTo("2 intra-op threads (IntraOpNumThreads; cores available: " + Environment.ProcessorCount + "), sequential, no spinning, dynamic blocks (base 4)"), "the session config entry shows in the choice");
        }
    }

    [Test]
    public async Task Batching_off_and_the_graph_as_stored_are_rows_of_their_own_with_the_same_ids()
    {
        var report = await BenchmarkRunner.RunAsync(new BenchmarkSettings
        {
            ModelDirectory = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare"),
            NewTokens = 12,
            WarmupRuns = 0,
            MeasuredRuns = 1,
            IntraOpThreads = 2,
            MeasureBandwidth = false,
            Implementations = BenchmarkImplementations.OnnxGpt | BenchmarkImplementations.OnnxGptNoBatching | BenchmarkImplementations.OnnxGptAsStored,
        });

        var ran = report.Implementations.Where(i => i.Status == ImplementationStatus.Ok).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ran.Select(i => i.Name), Is.EqualTo(new[] { "OnnxGpt", "OnnxGpt (batching off)", "OnnxGpt (graph as stored)" }));
            Assert.That(ran[1].TokenIds, Is.EqualTo(ran[0].TokenIds));
            Assert.That(ran[2].TokenIds, Is.EqualTo(ran[0].TokenIds));
            Assert.That(ran[0].TokenIds, Has.Count.EqualTo(12));
        }
    }
}
