using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.Tests.Hosting;

/// <summary>Many requests at once through the concurrency limit, on the embedded model.</summary>
[TestFixture]
public sealed class ConcurrentGenerationTests : TinyShakespeareFixture
{
    private static readonly string[] Prompts = ["ROMEO:", "JULIET:", "KING HENRY:", "First Citizen:", "O, ", "MENENIUS:", "To be", "The king"];

    [Test]
    public async Task Eight_greedy_requests_through_a_limit_of_two_each_produce_their_single_request_output()
    {
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 40 };
        var single = GptGenerator.Create(Model);
        var expected = new List<GenerationResult>();
        foreach (var prompt in Prompts)
        {
            expected.Add(await single.GenerateAsync(prompt, options));
        }

        using var limited = new ConcurrencyLimitedGenerator(GptGenerator.Create(Model), maxConcurrentRequests: 2, maxQueuedRequests: 8);
        var peak = 0;
        async Task<(List<int> Ids, string Text)> Stream(string prompt)
        {
            var ids = new List<int>();
            var text = new System.Text.StringBuilder();
            await foreach (var token in limited.StreamAsync(prompt, options))
            {
                ids.Add(token.Id);
                text.Append(token.Text);
                InterlockedMax(ref peak, limited.Running);
                await Task.Yield();
            }

            return (ids, text.ToString());
        }

        var results = await Task.WhenAll(Prompts.Select(p => Task.Run(() => Stream(p))));

        Assert.Multiple(() =>
        {
            for (var i = 0; i < Prompts.Length; i++)
            {
                Assert.That(results[i].Ids, Is.EqualTo(expected[i].TokenIds), Prompts[i]);
                Assert.That(results[i].Text, Is.EqualTo(expected[i].Text), Prompts[i]);
            }

            Assert.That(peak, Is.InRange(1, 2));
            Assert.That(limited.Running, Is.Zero);
            Assert.That(limited.Queued, Is.Zero);
            Assert.That(Model.Runtime.CachePool.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task A_cancelled_client_stops_within_one_token_and_frees_its_cache_while_others_finish()
    {
        using var limited = new ConcurrencyLimitedGenerator(GptGenerator.Create(Model), maxConcurrentRequests: 2, maxQueuedRequests: 4);
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 200 };
        var expectedOther = await GptGenerator.Create(Model).GenerateAsync("JULIET:", options);

        using var cts = new CancellationTokenSource();
        var seen = 0;
        var tokensAfterCancel = 0;
        var cancelled = Task.Run(async () =>
        {
            await foreach (var token in limited.StreamAsync("ROMEO:", options, cts.Token))
            {
                if (cts.IsCancellationRequested)
                {
                    tokensAfterCancel++;
                }

                if (++seen == 5)
                {
                    await cts.CancelAsync();
                }
            }
        });
        var other = Task.Run(() => limited.GenerateAsync("JULIET:", options));

        var ex = Assert.CatchAsync<OperationCanceledException>(() => cancelled);
        var otherResult = await other;

        Assert.Multiple(() =>
        {
            Assert.That(ex, Is.InstanceOf<GenerationCanceledException>());
            var partial = ((GenerationCanceledException)ex!).PartialResult!;
            Assert.That(partial.FinishReason, Is.EqualTo(FinishReason.Cancelled));
            Assert.That(partial.GeneratedTokenCount, Is.EqualTo(5), "no token is generated after the one during which the client cancelled");
            Assert.That(tokensAfterCancel, Is.Zero);
            Assert.That(otherResult.TokenIds, Is.EqualTo(expectedOther.TokenIds));
            Assert.That(limited.Running, Is.Zero);
            Assert.That(Model.Runtime.CachePool.Rented, Is.Zero, "every request returned its cache");
        });
    }

    [Test]
    public async Task A_client_cancelled_while_queued_never_starts_and_leaves_no_cache()
    {
        using var limited = new ConcurrencyLimitedGenerator(GptGenerator.Create(Model), maxConcurrentRequests: 1, maxQueuedRequests: 4);
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 200 };
        using var hold = new SemaphoreSlim(0);
        var running = Task.Run(async () =>
        {
            var count = 0;
            await foreach (var token in limited.StreamAsync("ROMEO:", options))
            {
                if (++count == 1)
                {
                    await hold.WaitAsync();
                }
            }
        });
        for (var i = 0; i < 500 && limited.Running == 0; i++)
        {
            await Task.Delay(10);
        }

        using var cts = new CancellationTokenSource();
        var queued = Task.Run(() => limited.GenerateAsync("JULIET:", options, cts.Token));
        for (var i = 0; i < 500 && limited.Queued == 0; i++)
        {
            await Task.Delay(10);
        }

        Assert.That(limited.Queued, Is.EqualTo(1));
        Assert.That(Model.Runtime.CachePool.Rented, Is.EqualTo(1), "only the running request holds a cache");
        await cts.CancelAsync();
        Assert.CatchAsync<OperationCanceledException>(() => queued);
        hold.Release();
        await running;

        Assert.Multiple(() =>
        {
            Assert.That(limited.Queued, Is.Zero);
            Assert.That(Model.Runtime.CachePool.Rented, Is.Zero);
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
