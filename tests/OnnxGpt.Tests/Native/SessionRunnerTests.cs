using Microsoft.Extensions.Logging;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Native;

/// <summary>
/// The per-token loop's session runs: through the C API on the session's native handle once the load-time check has
/// compared it with the managed API, and through the managed API (IoBinding over the same buffers) when the handle
/// is missing, with a warning and the same greedy ids, on every graph convention.
/// </summary>
[TestFixture]
public sealed class SessionRunnerTests
{
    private static readonly string[] Conventions = ["tiny-shakespeare", "gpt2-tiny", "gpt2-tiny-combined", "gpt2-tiny-nocache", "gpt2-tiny-merged", "gpt2-tiny-split", "tiny-llama-shakespeare"];

    private static string PathOf(string fixture) => fixture == "tiny-shakespeare" ? TestPaths.TinyShakespeare : TestPaths.Fixture(fixture);

    [TestCaseSource(nameof(Conventions))]
    public void The_load_check_keeps_the_native_run(string fixture)
    {
        using var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        using var model = GptModel.Load(new GptOptions { ModelPath = PathOf(fixture) }, factory);

        Assert.Multiple(() =>
        {
            Assert.That(model.Runtime.Runner.IsNative, Is.True);
            Assert.That(model.Runtime.PrefillRunner?.IsNative ?? true, Is.True);
            Assert.That(logs.Messages.Where(m => m.EventId.Id == 9), Is.Empty);
        });
    }

    [TestCaseSource(nameof(Conventions))]
    public async Task Without_the_native_handle_the_managed_run_gives_the_reference_greedy_ids(string fixture)
    {
        using var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        using var model = GptModel.Load(new GptOptions { ModelPath = PathOf(fixture) }, factory, deviceCacheMemory: null, nativeRun: false);
        var generator = GptGenerator.Create(model);
        var cases = ReferenceData.Greedy(fixture, PathOf(fixture)).ToList();

        var single = new List<IReadOnlyList<int>>();
        foreach (var c in cases)
        {
            single.Add((await generator.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length })).TokenIds);
        }

        var batch = await Task.WhenAll(cases.Select(c => generator.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length })));

        Assert.Multiple(() =>
        {
            Assert.That(model.Runtime.Runner.IsNative, Is.False);
            Assert.That(logs.Messages.Where(m => m.EventId.Id == 9).Select(m => m.Level), Is.EqualTo(new[] { LogLevel.Warning }), "one warning at load");
            for (var i = 0; i < cases.Count; i++)
            {
                Assert.That(single[i], Is.EqualTo(cases[i].GreedyIds), $"alone: {cases[i].Name}");
                Assert.That(batch[i].TokenIds, Is.EqualTo(cases[i].GreedyIds), $"concurrent: {cases[i].Name}");
            }

            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public void A_failing_managed_run_reports_onnx_runtimes_message()
    {
        using var model = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare }, null, deviceCacheMemory: null, nativeRun: false);
        using var decoder = new DecoderSession(model, 4, CancellationToken.None);

        // An id past the embedding table fails inside the graph's Gather.
        var error = Assert.Throws<GptException>(() => decoder.Prefill([model.Info.VocabularySize + 1000]));

        Assert.That(error!.Message, Does.StartWith($"ONNX Runtime failed while processing positions 0..0 of '{TestPaths.TinyShakespeare}': "));
    }
}
