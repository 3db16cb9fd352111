using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

/// <summary>
/// The managed bytes a generated token costs, measured as the difference between a long and a short generation:
/// on the request's own thread with batching off (the engine then runs on it).
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PerTokenAllocationTests
{
    private GptModel _alone = null!;
    private GptModel _batched = null!;

    private GptGenerator Generator { get; set; } = null!;

    [OneTimeSetUp]
    public void LoadModels()
    {
        _alone = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, EnableBatching = false });
        _batched = GptModel.Load(TestPaths.TinyShakespeare);
        Generator = GptGenerator.Create(_alone);
    }

    [OneTimeTearDown]
    public void UnloadModels()
    {
        _alone.Dispose();
        _batched.Dispose();
    }

    // On a pool thread without a synchronization context, the stream never leaves the thread it started on.
    private Task<long> AllocatedAsync(GenerationOptions options) => Task.Run(() => AllocatedOnThisThreadAsync(options));

    private async Task<long> AllocatedOnThisThreadAsync(GenerationOptions options)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var thread = Environment.CurrentManagedThreadId;
        var count = 0;
        await foreach (var token in Generator.StreamAsync("ROMEO:", options))
        {
            count++;
        }

        Assert.That(Environment.CurrentManagedThreadId, Is.EqualTo(thread), "the stream ran on the calling thread, so its allocations were counted");
        Assert.That(count, Is.EqualTo(options.MaxNewTokens));
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    private async Task<double> BytesPerTokenAsync(Func<int, GenerationOptions> options)
    {
        // Warm up (JIT, pooled buffers), then take the marginal cost of 160 more tokens.
        await AllocatedAsync(options(200));
        var shortRun = await AllocatedAsync(options(40));
        var longRun = await AllocatedAsync(options(200));
        return (longRun - shortRun) / 160.0;
    }

    [Test]
    public async Task A_generated_token_costs_under_400_managed_bytes_unless_alternatives_are_asked_for()
    {
        var plain = await BytesPerTokenAsync(n => new GenerationOptions { Seed = 1, MaxNewTokens = n, MinNewTokens = 255 });
        var everything = await BytesPerTokenAsync(n => new GenerationOptions
        {
            Seed = 1, MaxNewTokens = n, MinNewTokens = 255, TopP = 0.95f, MinP = 0.01f, TypicalP = 0.95f, RepetitionPenalty = 1.1f,
            FrequencyPenalty = 0.2f, PresencePenalty = 0.2f, NoRepeatNGramSize = 4, BannedTokenSequences = [[41, 456]],
            LogitBias = new Dictionary<int, float> { [5] = -1 },
        });
        var greedy = await BytesPerTokenAsync(n => new GenerationOptions { DoSample = false, MaxNewTokens = n, MinNewTokens = 255 });
        var withLogprobs = await BytesPerTokenAsync(n => new GenerationOptions { Seed = 1, MaxNewTokens = n, MinNewTokens = 255, TopLogprobs = 5 });

        TestContext.Out.WriteLine($"bytes per token: sampling {plain:F0}, every stage {everything:F0}, greedy {greedy:F0}, top-5 logprobs {withLogprobs:F0}");
        Assert.Multiple(() =>
        {
            // What remains is the GeneratedToken, its text and the stream's bookkeeping (the texts differ between runs,
            // so the runs are compared with a bound, not with each other; the stages themselves are measured at 0 bytes
            // in StageSemanticsTests).
            Assert.That(plain, Is.LessThan(400));
            Assert.That(everything, Is.LessThan(400));
            Assert.That(greedy, Is.LessThan(400));
            Assert.That(withLogprobs, Is.GreaterThan(plain), "alternatives are allocated only when asked for");
        });
    }
}
