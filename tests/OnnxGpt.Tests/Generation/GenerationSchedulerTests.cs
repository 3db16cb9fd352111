using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Generation;

/// <summary>
/// The scheduler's lone row: the model's only request runs on its caller's thread, joins the scheduler's batch at a
/// step boundary when a second request arrives (its cache intact, its ids those of its single run), and a lone row
/// that is cancelled, abandoned or outlives its model ends cleanly.
/// </summary>
[TestFixture]
public sealed class GenerationSchedulerTests
{
    private static GenerationOptions Greedy(int tokens, ISamplingStage? stage = null) =>
        new() { DoSample = false, MaxNewTokens = tokens, MinNewTokens = tokens, CustomStages = stage is null ? [] : [stage] };

    /// <summary>Reads the next <paramref name="count"/> tokens' ids from <paramref name="stream"/>, each of which must come.</summary>
    private static async Task<List<int>> ReadIdsAsync(IAsyncEnumerator<GeneratedToken> stream, int count)
    {
        var ids = new List<int>();
        for (var i = 0; i < count; i++)
        {
            Assert.That(await stream.MoveNextAsync(), Is.True);
            ids.Add(stream.Current.Id);
        }

        return ids;
    }

    private static async Task<int[]> SingleRunAsync(string prompt, int tokens)
    {
        using var alone = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, EnableBatching = false });
        return [.. (await GptGenerator.Create(alone).GenerateAsync(prompt, Greedy(tokens))).TokenIds];
    }

    [Test]
    public async Task A_lone_row_runs_every_step_on_its_callers_thread_and_starts_no_scheduler_thread()
    {
        var expected = await SingleRunAsync("ROMEO:", 30);
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var probe = new ThreadProbe();

        // A plain thread without a synchronization context, which reads the stream synchronously: every step's
        // sampling must happen on it.
        int[] ids = [];
        var reader = new Thread(() =>
        {
            var list = new List<int>();
            var stream = generator.StreamAsync("ROMEO:", Greedy(30, probe)).GetAsyncEnumerator();
            while (stream.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                list.Add(stream.Current.Id);
            }

            stream.DisposeAsync().AsTask().GetAwaiter().GetResult();
            ids = [.. list];
        });
        reader.Start();
        reader.Join();

        Assert.Multiple(() =>
        {
            Assert.That(ids, Is.EqualTo(expected));
            Assert.That(probe.Threads, Is.EqualTo(new[] { reader.ManagedThreadId }));
            Assert.That(probe.Calls, Is.EqualTo(30));
            Assert.That(model.Runtime.Scheduler.Thread, Is.Null, "no hand-off: the scheduler's thread never started");
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task A_lone_row_that_a_second_request_joins_and_leaves_keeps_its_single_run_ids()
    {
        var expectedLone = await SingleRunAsync("ROMEO:", 60);
        var expectedSecond = await SingleRunAsync("First Citizen:", 12);
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var probe = new ThreadProbe();

        var lone = generator.StreamAsync("ROMEO:", Greedy(60, probe)).GetAsyncEnumerator();
        var loneIds = await ReadIdsAsync(lone, 10);

        var aloneThreads = probe.Threads.ToArray();
        var threadWhileAlone = model.Runtime.Scheduler.Thread;

        // The second request arrives after the lone row's 10th token: both run on the scheduler's thread, together;
        // the second ends after 12 tokens and the lone row goes on without it.
        var second = generator.GenerateAsync("First Citizen:", Greedy(12));
        while (await lone.MoveNextAsync())
        {
            loneIds.Add(lone.Current.Id);
        }

        await lone.DisposeAsync();
        var secondResult = await second;

        Assert.Multiple(() =>
        {
            Assert.That(loneIds, Is.EqualTo(expectedLone));
            Assert.That(secondResult.TokenIds, Is.EqualTo(expectedSecond));
            Assert.That(threadWhileAlone, Is.Null, "alone, the steps ran on the reader's thread: the scheduler's had not started");
            Assert.That(aloneThreads, Does.Not.Contain(model.Runtime.Scheduler.Thread!.ManagedThreadId));
            Assert.That(probe.Threads, Does.Contain(model.Runtime.Scheduler.Thread!.ManagedThreadId), "joined, the scheduler's thread ran it");
            Assert.That(model.Runtime.Scheduler.PeakRows, Is.EqualTo(2), "the two requests ran together");
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });

        // Idle again: the next request runs alone again and gets its single-run ids.
        var again = await generator.GenerateAsync("ROMEO:", Greedy(60));
        Assert.That(again.TokenIds, Is.EqualTo(expectedLone));
    }

    [Test]
    public async Task When_the_batch_shrinks_back_to_one_row_its_reader_drives_it_again_off_the_scheduler_thread()
    {
        var expectedLone = await SingleRunAsync("ROMEO:", 80);
        var expectedSecond = await SingleRunAsync("First Citizen:", 12);
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var probe = new ThreadProbe();

        var lone = generator.StreamAsync("ROMEO:", Greedy(80, probe)).GetAsyncEnumerator();
        var loneIds = await ReadIdsAsync(lone, 5);

        // The second request joins; once it has ended, the lone row is handed back to its reader: every later step
        // runs off the scheduler's thread, as a first lone request's do.
        var second = generator.GenerateAsync("First Citizen:", Greedy(12));
        while (!second.IsCompleted && await lone.MoveNextAsync())
        {
            loneIds.Add(lone.Current.Id);
        }

        var secondResult = await second;
        var stepsWhileBatched = probe.Calls;
        while (await lone.MoveNextAsync())
        {
            loneIds.Add(lone.Current.Id);
        }

        await lone.DisposeAsync();
        var scheduler = model.Runtime.Scheduler.Thread!.ManagedThreadId;
        var afterwards = probe.Order.Skip(stepsWhileBatched).ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(loneIds, Is.EqualTo(expectedLone));
            Assert.That(secondResult.TokenIds, Is.EqualTo(expectedSecond));
            Assert.That(probe.Order.Take(stepsWhileBatched), Does.Contain(scheduler), "batched, the scheduler's thread ran the row");
            Assert.That(afterwards, Has.Length.GreaterThanOrEqualTo(80 - stepsWhileBatched - 1));
            Assert.That(afterwards, Does.Not.Contain(scheduler), "handed back, the reader's thread ran every step");
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });

        // The next request runs alone and gets its single-run ids.
        var again = await generator.GenerateAsync("ROMEO:", Greedy(80));
        Assert.That(again.TokenIds, Is.EqualTo(expectedLone));
    }

    [Test]
    public async Task Cancelling_a_lone_row_ends_it_with_the_tokens_it_was_given_and_frees_its_cache()
    {
        var expected = await SingleRunAsync("ROMEO:", 40);
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        using var cts = new CancellationTokenSource();
        var ids = new List<int>();

        var ex = Assert.ThrowsAsync<GenerationCanceledException>(async () =>
        {
            await foreach (var token in generator.StreamAsync("ROMEO:", Greedy(40), cts.Token))
            {
                ids.Add(token.Id);
                if (ids.Count == 7)
                {
                    cts.Cancel();
                }
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(ids, Is.EqualTo(expected[..7]));
            Assert.That(ex!.PartialResult!.TokenIds, Is.EqualTo(expected[..7]));
            Assert.That(ex.PartialResult.FinishReason, Is.EqualTo(FinishReason.Cancelled));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });

        var next = await generator.GenerateAsync("ROMEO:", Greedy(40));
        Assert.That(next.TokenIds, Is.EqualTo(expected));
    }

    [Test]
    public async Task A_lone_row_whose_reader_stops_early_frees_its_cache_at_once()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var stream = generator.StreamAsync("ROMEO:", Greedy(40)).GetAsyncEnumerator();
        Assert.That(await stream.MoveNextAsync(), Is.True);
        var rentedWhileRunning = model.CacheStatistics.Rented;
        await stream.DisposeAsync();

        Assert.Multiple(() =>
        {
            Assert.That(rentedWhileRunning, Is.GreaterThan(0));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
            Assert.That(model.Runtime.Scheduler.Thread, Is.Null);
        });
    }

    [Test]
    public async Task Disposing_the_model_ends_a_lone_row_with_ObjectDisposedException()
    {
        var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var stream = generator.StreamAsync("ROMEO:", Greedy(40)).GetAsyncEnumerator();
        Assert.That(await stream.MoveNextAsync(), Is.True);
        model.Dispose();

        Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            while (await stream.MoveNextAsync())
            {
            }
        });
        await stream.DisposeAsync();
    }

    /// <summary>Records the threads its row's sampling ran on (it leaves the scores as they are).</summary>
    private sealed class ThreadProbe : ISamplingStage
    {
        private readonly List<int> _threads = [];

        public IReadOnlyList<int> Threads
        {
            get
            {
                lock (_threads)
                {
                    return [.. _threads.Distinct()];
                }
            }
        }

        /// <summary>Each call's thread, in call order.</summary>
        public IReadOnlyList<int> Order
        {
            get
            {
                lock (_threads)
                {
                    return [.. _threads];
                }
            }
        }

        public int Calls { get; private set; }

        public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
        {
            lock (_threads)
            {
                Calls++;
                _threads.Add(Environment.CurrentManagedThreadId);
            }
        }
    }
}
