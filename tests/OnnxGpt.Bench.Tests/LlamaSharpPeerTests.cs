using OnnxGpt.Onnx.Gguf;

namespace OnnxGpt.Bench.Tests;

public sealed class LlamaSharpPeerTests
{
    private static readonly string ModelDirectory = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");

    [Test]
    public async Task LLamaSharp_on_the_F32_gguf_of_tiny_shakespeare_gives_OnnxGpt_greedy_ids()
    {
        var dir = Directory.CreateTempSubdirectory("onnxgpt-bench-llamasharp-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(ModelDirectory))
            {
                File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            }

            var report = await BenchmarkRunner.RunAsync(new BenchmarkSettings
            {
                ModelDirectory = dir,
                NewTokens = 32,
                WarmupRuns = 0,
                MeasuredRuns = 1,
                IntraOpThreads = 1,
                MeasureBandwidth = false,
                Implementations = BenchmarkImplementations.OnnxGpt | BenchmarkImplementations.LlamaSharp,
                GgufTypes = [GgmlType.F32],
            });

            var peer = report.Implementations.Single(i => i.Name == "LLamaSharp F32");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(peer.Status, Is.EqualTo(ImplementationStatus.Ok), peer.Note);
                Assert.That(File.Exists(Path.Combine(dir, "gguf", "model-F32.gguf")), Is.True);
                Assert.That(peer.TokenIds, Is.EqualTo(report.Implementations.Single(i => i.Name == "OnnxGpt").TokenIds));
                Assert.That(peer.Peer, Is.Not.Null);
                Assert.That(peer.Peer!.IdsCompared, Is.EqualTo(32));
                Assert.That(peer.Peer.IdsEqual, Is.EqualTo(32));
                Assert.That(peer.Peer.CommonPrefix, Is.EqualTo(32));
                Assert.That(report.IdsMatch, Is.Null, "the peer is compared apart; OnnxGpt alone leaves nothing to match");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
