using OnnxGpt.Caching;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Caching;

/// <summary><see cref="GptModel.CacheStatistics"/> counts the pool's caches and the bytes their buffers hold.</summary>
[TestFixture]
public sealed class KvCacheStatisticsTests
{
    // tiny-shakespeare: 4 layers x (key, value) x 2 buffers x 64 positions (the smallest capacity) x 8 heads x 32 x 4 bytes.
    private const long SmallestCacheBytes = 4 * 2 * 2 * 64 * 8 * 32 * 4;

    [Test]
    public async Task A_running_request_rents_one_cache_and_gives_it_back_as_idle()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 10 };
        var before = model.CacheStatistics;
        KvCacheStatistics? during = null;

        await foreach (var token in generator.StreamAsync("ROMEO:", options))
        {
            during ??= model.CacheStatistics;
        }

        Assert.Multiple(() =>
        {
            Assert.That(before, Is.EqualTo(new KvCacheStatistics(0, 0)));
            Assert.That(during, Is.EqualTo(new KvCacheStatistics(1, 0, 0, SmallestCacheBytes, 0)));
            Assert.That(model.CacheStatistics, Is.EqualTo(new KvCacheStatistics(0, 1, 0, 0, SmallestCacheBytes)));
        });
    }

    [Test]
    public async Task A_kept_conversation_stays_rented_with_a_cache_for_the_whole_context()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);

        await generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 10, ConversationId = "c" });

        // Later turns grow the same cache, so a conversation takes one sized for the context (256 positions).
        Assert.That(model.CacheStatistics, Is.EqualTo(new KvCacheStatistics(1, 0, 1, SmallestCacheBytes * 4, 0)));
    }
}
