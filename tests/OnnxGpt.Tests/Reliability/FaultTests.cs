using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Reliability;

/// <summary>Cancellation at every point and disposal under load end cleanly, and leave no cache checked out.</summary>
[TestFixture]
public sealed class FaultTests
{
    [Test]
    public async Task Cancellation_during_prefill_ends_with_operation_cancelled_and_returns_the_cache()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var prompt = Enumerable.Range(0, 250).Select(i => 100 + (i % 1000)).ToArray();
        var outcomes = new List<string>();

        // Cancel at a spread of moments, from before the run to inside it.
        for (var delayTicks = 0; delayTicks < 20; delayTicks++)
        {
            using var cts = new CancellationTokenSource();
            var task = generator.GenerateAsync(prompt, new GenerationOptions { MaxNewTokens = 3, DoSample = false }, cts.Token);
            cts.CancelAfter(TimeSpan.FromTicks(delayTicks * 500));
            try
            {
                await task;
                outcomes.Add("completed");
            }
            catch (GenerationCanceledException ex)
            {
                outcomes.Add("cancelled");
                Assert.That(ex.CancellationToken, Is.EqualTo(cts.Token));
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(outcomes, Is.All.AnyOf("completed", "cancelled"));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task Cancelling_after_completion_changes_nothing()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var cts = new CancellationTokenSource();
        var result = await GptGenerator.Create(model).GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 4, DoSample = false }, cts.Token);

        await cts.CancelAsync();

        Assert.Multiple(() =>
        {
            Assert.That(result.TokenIds, Is.EqualTo(new[] { 199, 41, 456, 322 }));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task Disposing_the_model_while_generations_run_ends_them_with_object_disposed()
    {
        var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var started = new SemaphoreSlim(0);
        var runs = Enumerable.Range(0, 4).Select(i => Task.Run(async () =>
        {
            var count = 0;
            await foreach (var _ in generator.StreamAsync(Enumerable.Range(10, 5 + i).ToArray(), new GenerationOptions { MaxNewTokens = 200, Seed = i }))
            {
                if (++count == 2)
                {
                    started.Release();
                }
            }

            return count;
        })).ToList();
        for (var i = 0; i < 4; i++)
        {
            await started.WaitAsync(TimeSpan.FromSeconds(30));
        }

        Assert.That(model.Runtime.Batches, Is.True, "the four rows run in the scheduler's batch");
        model.Dispose();

        foreach (var run in runs)
        {
            try
            {
                var count = await run;
                Assert.That(count, Is.LessThanOrEqualTo(200), "a run that finished before disposal");
            }
            catch (ObjectDisposedException ex)
            {
                Assert.That(ex.ObjectName, Does.Contain(nameof(GptModel)));
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
            Assert.ThrowsAsync<ObjectDisposedException>(() => generator.GenerateAsync("ROMEO:"));
        });
        started.Dispose();
    }
}
