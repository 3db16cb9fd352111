using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using OnnxGpt.Caching;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Caching;

/// <summary>
/// The device-memory cache paths, run without a GPU: the cache's buffers are host memory labelled as device memory
/// (<see cref="CacheMemory.HostBuffersLabelled"/>), which takes OnnxGpt's device path (no managed reads or compaction
/// of the cache); a device cache ONNX Runtime cannot provide is found at load and replaced by host memory, with a
/// warning, so that requests still run.
/// </summary>
[TestFixture]
public sealed class DeviceCacheTests
{
    private const int DeviceCacheUnavailableEvent = 8;

    private static readonly GenerationOptions Greedy = new() { DoSample = false, MaxNewTokens = 12 };

    [Test]
    public async Task Memory_the_session_can_use_keeps_the_device_path_and_gives_the_reference_ids()
    {
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        using var model = Load(factory, "Cpu");
        var generator = GptGenerator.Create(model);
        var reference = ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).First();

        var result = await generator.GenerateAsync(reference.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = reference.GreedyIds.Length });

        Assert.Multiple(() =>
        {
            Assert.That(model.Runtime.CachePool.Memory.IsHost, Is.False);
            Assert.That(model.CacheLocation, Is.EqualTo("Cpu device 0"));
            Assert.That(logs.Warnings, Is.Empty);
            Assert.That(result.TokenIds, Is.EqualTo(reference.GreedyIds));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task A_device_cache_continues_a_conversation_that_extends_it_and_starts_afresh_when_it_would_need_cutting()
    {
        using var model = Load(null, "Cpu");
        var generator = GptGenerator.Create(model);
        var turn = new GenerationOptions { DoSample = false, MaxNewTokens = 12, ConversationId = "device" };
        const string history = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n";

        var first = await generator.GenerateAsync(history, turn);
        var extended = await generator.GenerateAsync(history + first.Text + "\n\nFirst Citizen:\n", turn);
        var diverging = await generator.GenerateAsync(history + "Speak, speak.\n\nFirst Citizen:\n", turn);
        var fresh = await generator.GenerateAsync(history + "Speak, speak.\n\nFirst Citizen:\n", Greedy);

        Assert.Multiple(() =>
        {
            // Device memory is not compacted by OnnxGpt: a turn reuses the cache only when it needs no cutting.
            Assert.That(extended.ReusedPromptTokenCount, Is.EqualTo(first.PromptTokenCount + first.TokenIds.Count - 1));
            Assert.That(diverging.ReusedPromptTokenCount, Is.Zero);
            Assert.That(diverging.TokenIds, Is.EqualTo(fresh.TokenIds));
        });
    }

    [Test]
    public async Task A_device_cache_the_session_cannot_allocate_falls_back_to_host_memory_at_load_with_a_warning()
    {
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));

        // The CUDA cache memory of a CPU session: ONNX Runtime has no CUDA allocator to give.
        using var model = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare }, factory, session => CacheMemory.Cuda(session, 0));
        var reference = ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).First();

        var result = await GptGenerator.Create(model).GenerateAsync(reference.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = reference.GreedyIds.Length });

        var warnings = logs.Messages.Where(m => m.Level == LogLevel.Warning).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(model.Runtime.CachePool.Memory.IsHost, Is.True);
            Assert.That(model.CacheLocation, Is.EqualTo("host"));
            Assert.That(warnings, Has.Count.EqualTo(1));
            Assert.That(warnings[0].EventId.Id, Is.EqualTo(DeviceCacheUnavailableEvent));
            Assert.That(warnings[0].Text, Does.Contain("the KV cache cannot stay in device memory").And.Contain("host memory"));
            Assert.That(result.TokenIds, Is.EqualTo(reference.GreedyIds));
            Assert.That(model.CacheStatistics, Is.EqualTo(new KvCacheStatistics(0, 1, 0, 0, model.CacheStatistics.IdleBytes)));
        });
    }

    private static GptModel Load(ILoggerFactory? factory, string device) =>
        GptModel.Load(
            new GptOptions { ModelPath = TestPaths.TinyShakespeare },
            factory,
            _ => CacheMemory.HostBuffersLabelled(new OrtMemoryInfo(device, OrtAllocatorType.DeviceAllocator, 0, OrtMemType.Default)));
}
