using System.Runtime.CompilerServices;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;
using OnnxGpt.Models;

namespace OnnxGpt.Tests.Hosting;

[TestFixture]
public sealed class ConcurrencyLimitedGeneratorTests
{
    [Test]
    public async Task Runs_at_most_the_limit_and_queues_the_rest_in_order()
    {
        using var fake = new GatedGenerator();
        using var limited = new ConcurrencyLimitedGenerator(fake, maxConcurrentRequests: 2, maxQueuedRequests: 5);

        var tasks = Enumerable.Range(0, 5).Select(i => limited.GenerateAsync(i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        await WaitUntil(() => fake.Started == 2 && limited.Queued == 3);
        Assert.That(limited.Running, Is.EqualTo(2));

        fake.Release(5);
        await Task.WhenAll(tasks);

        Assert.Multiple(() =>
        {
            Assert.That(fake.MaxConcurrent, Is.EqualTo(2));
            Assert.That(limited.Running, Is.Zero);
            Assert.That(limited.Queued, Is.Zero);
        });
    }

    [Test]
    public async Task A_full_queue_refuses_with_a_clear_error()
    {
        using var fake = new GatedGenerator();
        using var limited = new ConcurrencyLimitedGenerator(fake, maxConcurrentRequests: 1, maxQueuedRequests: 1);
        var running = limited.GenerateAsync("a");
        await WaitUntil(() => fake.Started == 1);
        var waiting = limited.GenerateAsync("b");
        await WaitUntil(() => limited.Queued == 1);

        var ex = Assert.ThrowsAsync<GptQueueFullException>(() => limited.GenerateAsync("c"));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Running, Is.EqualTo(1));
            Assert.That(ex.Queued, Is.EqualTo(1));
        });
        fake.Release(2);
        await Task.WhenAll(running, waiting);
    }

    [Test]
    public async Task A_request_cancelled_while_waiting_leaves_the_queue()
    {
        using var fake = new GatedGenerator();
        using var limited = new ConcurrencyLimitedGenerator(fake, maxConcurrentRequests: 1, maxQueuedRequests: null);
        var running = limited.GenerateAsync("a");
        await WaitUntil(() => fake.Started == 1);
        using var cts = new CancellationTokenSource();
        var waiting = limited.GenerateAsync("b", null, cts.Token);
        await WaitUntil(() => limited.Queued == 1);

        await cts.CancelAsync();

        Assert.CatchAsync<OperationCanceledException>(() => waiting);
        Assert.That(limited.Queued, Is.Zero);
        fake.Release(1);
        await running;
        Assert.That(fake.Started, Is.EqualTo(1));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.That(condition(), Is.True, "condition not reached");
    }

    /// <summary>A generator whose requests block until released, counting how many run at once.</summary>
    private sealed class GatedGenerator : IGptGenerator, IDisposable
    {
        private readonly SemaphoreSlim _gate = new(0);
        private int _running;
        private int _started;
        private int _maxConcurrent;

        public GptModelInfo ModelInfo => throw new NotSupportedException();

        public int Started => Volatile.Read(ref _started);

        public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

        public void Release(int count) => _gate.Release(count);

        public void Dispose() => _gate.Dispose();

        public async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _started);
            var now = Interlocked.Increment(ref _running);
            InterlockedMax(ref _maxConcurrent, now);
            await _gate.WaitAsync(cancellationToken);
            Interlocked.Decrement(ref _running);
            yield return new GeneratedToken(1, prompt.Text!, 0, new GenerationResult
            {
                Text = prompt.Text!,
                PromptTokenIds = [],
                TokenIds = [1],
                FinishReason = FinishReason.Length,
                ExecutionProvider = "Fake",
                TimeToFirstToken = TimeSpan.Zero,
                TotalTime = TimeSpan.Zero,
            });
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int current;
            while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
            {
            }
        }
    }
}
