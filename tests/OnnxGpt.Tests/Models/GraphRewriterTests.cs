using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using OnnxGpt.Generation;
using OnnxGpt.Models;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Tests.Models;

/// <summary>
/// <see cref="GptOptions.OptimizeGraph"/>: the graph gets num_logits_to_keep in memory at load (the file is never
/// written), and every id stays what the graph as stored gives.
/// </summary>
[TestFixture]
public sealed class GraphRewriterTests
{
    private static readonly GenerationOptions Greedy = new() { DoSample = false, MaxNewTokens = 24 };
    private static readonly GenerationOptions Lookup = new() { DoSample = false, MaxNewTokens = 24, PromptLookupTokens = 4 };
    private static readonly GptPrompt[] Prompts = [GptPrompt.FromTokenIds([5, 9, 14, 3, 5, 9, 14, 3]), GptPrompt.FromTokenIds([7, 2]), GptPrompt.FromTokenIds([11, 4, 4, 30, 2, 8])];

    [TestCase("gpt2-tiny", true)]
    [TestCase("gpt2-tiny-combined", true)]
    [TestCase("gpt2-tiny-nocache", false)]
    [TestCase("tiny-shakespeare-dynamo", true)]
    [TestCase("tiny-llama-shakespeare", true)]
    public async Task Loading_adds_logits_to_keep_in_memory_and_every_greedy_batched_and_prompt_lookup_id_stays_the_same(string fixture, bool cached)
    {
        var folder = TestPaths.Fixture(fixture);
        var graph = Path.Combine(folder, "model.onnx");
        var stored = SHA256.HashData(File.ReadAllBytes(graph));
        using var plain = GptModel.Load(new GptOptions { ModelPath = folder, OptimizeGraph = false });
        using var rewritten = GptModel.Load(folder);

        var (expected, expectedBatch, expectedLookup) = await Run(plain, cached);
        var (actual, actualBatch, actualLookup) = await Run(rewritten, cached);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rewritten.Info.GraphRewrites, Is.EqualTo(new[] { "LogitsToKeep" }));
            Assert.That(plain.Info.GraphRewrites, Is.Empty);
            Assert.That(actual, Is.EqualTo(expected));
            Assert.That(actualBatch, Is.EqualTo(expectedBatch));
            Assert.That(actualLookup, Is.EqualTo(expectedLookup));
            Assert.That(SHA256.HashData(File.ReadAllBytes(graph)), Is.EqualTo(stored), "the file is not written");
        }
    }

    [TestCase("llama3", null)]
    [TestCase("gemma3", null)]
    [TestCase("qwen3", null)]
    [TestCase("qwen3", "fp16")]
    [TestCase("qwen3", "q4")]
    [TestCase("qwen3", "external")]
    public async Task A_hub_folders_graph_is_rewritten_through_its_identity_cast_or_int4_lm_head_and_keeps_its_ids(string hub, string? variant)
    {
        var folder = TestPaths.Hub(hub);
        using var plain = GptModel.Load(new GptOptions { ModelPath = folder, Variant = variant, OptimizeGraph = false });
        using var rewritten = GptModel.Load(new GptOptions { ModelPath = folder, Variant = variant });

        var (expected, expectedBatch, expectedLookup) = await Run(plain, cached: true);
        var (actual, actualBatch, actualLookup) = await Run(rewritten, cached: true);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rewritten.Info.GraphRewrites, Is.EqualTo(new[] { "LogitsToKeep" }));
            Assert.That(actual, Is.EqualTo(expected));
            Assert.That(actualBatch, Is.EqualTo(expectedBatch));
            Assert.That(actualLookup, Is.EqualTo(expectedLookup));
        }
    }

    [Test]
    public async Task A_snapshot_whose_external_data_links_into_blobs_is_loaded_as_stored_and_keeps_its_ids()
    {
        // A Hugging Face cache: snapshots/rev/onnx/* link to ../../../blobs/*, which ONNX Runtime refuses for bytes.
        var hub = TestPaths.Hub("qwen3");
        using var cache = new TempDirectory();
        var snapshot = HubCacheSnapshot.CreateExternal(cache, hub);

        using var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        using var linked = GptModel.Load(new GptOptions { ModelPath = snapshot, Variant = "external" }, factory);
        using var local = GptModel.Load(new GptOptions { ModelPath = hub, Variant = "external" });
        var (expected, _, _) = await Run(local, cached: true);
        var (actual, _, _) = await Run(linked, cached: true);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(linked.Info.GraphRewrites, Is.Empty);
            Assert.That(local.Info.GraphRewrites, Is.EqualTo(new[] { "LogitsToKeep" }));
            Assert.That(actual, Is.EqualTo(expected));
            Assert.That(
                logs.Messages.Where(m => m.EventId.Id == 11).Select(m => m.Text),
                Has.Some.EqualTo($"{snapshot}: the graph is loaded as it is ('model_external.onnx_data' links outside the graph's folder (a Hugging Face cache snapshot), and ONNX Runtime reads the external data of a graph loaded from bytes only inside that folder)."));
        }
    }

    [TestCase("gpt2-tiny-merged")]
    [TestCase("gpt2-tiny-split")]
    public async Task A_merged_or_split_graph_loads_as_it_is_and_keeps_its_ids(string fixture)
    {
        using var model = GptModel.Load(TestPaths.Fixture(fixture));
        using var plain = GptModel.Load(new GptOptions { ModelPath = TestPaths.Fixture(fixture), OptimizeGraph = false });

        var result = await GptGenerator.Create(model).GenerateAsync(Prompts[0], Greedy);
        var expected = await GptGenerator.Create(plain).GenerateAsync(Prompts[0], Greedy);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.Info.GraphRewrites, Is.Empty);
            Assert.That(result.TokenIds, Is.EqualTo(expected.TokenIds));
        }
    }

    [Test]
    public async Task A_graph_with_external_data_is_loaded_from_memory_with_its_weights_read_beside_the_file()
    {
        // The quantizer writes model.onnx with its weights in model.onnx.data; ONNX Runtime, given bytes, finds them
        // only through the folder OnnxGpt names for it.
        using var temp = new TempDirectory();
        ModelQuantizer.Quantize(TestPaths.TinyShakespeare, temp.Path, new QuantizeOptions { Bits = 8 });
        Assert.That(File.Exists(temp.File("model.onnx.data")), Is.True);
        using var plain = GptModel.Load(new GptOptions { ModelPath = temp.Path, OptimizeGraph = false });
        using var rewritten = GptModel.Load(temp.Path);

        var expected = await GptGenerator.Create(plain).GenerateAsync("ROMEO:", Greedy);
        var actual = await GptGenerator.Create(rewritten).GenerateAsync("ROMEO:", Greedy);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rewritten.Info.GraphRewrites, Is.EqualTo(new[] { "LogitsToKeep" }));
            Assert.That(actual.TokenIds, Is.EqualTo(expected.TokenIds));
            Assert.That(actual.TokenIds, Has.Count.EqualTo(24));
        }
    }

    [Test]
    public void An_inline_graph_above_the_size_limit_or_a_file_that_is_not_onnx_is_left_to_load_as_it_is()
    {
        using var logs = new ListLoggerProvider();
        var logger = logs.CreateLogger("test");
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("model.onnx"), "not a graph");

        var large = GraphRewriter.TryRewrite(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"), "tiny", logger, maxInlineGraphBytes: 1 << 20);
        var broken = GraphRewriter.TryRewrite(temp.File("model.onnx"), "broken", logger);
        var fits = GraphRewriter.TryRewrite(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"), "tiny", logger);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(large, Is.Null);
            Assert.That(broken, Is.Null);
            Assert.That(fits?.Applied, Is.EqualTo(new[] { "LogitsToKeep" }));
            Assert.That(logs.Messages.Select(m => m.Text), Has.Some.Contains("holds 14 MiB inline; rewrite it once with onnxgpt optimize --fusion LogitsToKeep"));
            Assert.That(logs.Messages.Select(m => m.Text), Has.Some.StartsWith("broken: the graph is loaded as it is ('").And.Contains("is not an ONNX model"));
        }

        // ONNX Runtime then names the problem, as before.
        Assert.Throws<ModelLoadException>(() => GptModel.Load(temp.Path).Dispose());
    }

    [Test]
    public void A_graph_no_pass_matches_is_loaded_as_it_is_and_the_log_says_why()
    {
        using var logs = new ListLoggerProvider();
        var logger = logs.CreateLogger("test");
        using var temp = new TempDirectory();
        var once = GraphRewriter.TryRewrite(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"), "tiny", logger);
        File.WriteAllBytes(temp.File("model.onnx"), once!.Value.Graph);

        var twice = GraphRewriter.TryRewrite(temp.File("model.onnx"), "again", logger);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(twice, Is.Null);
            Assert.That(
                logs.Messages.Select(m => m.Text),
                Has.Some.EqualTo("again: the graph is loaded as it is (no pass matched: LogitsToKeep needs a 'logits' output made by a MatMul with a constant weight, in a graph that does not take num_logits_to_keep yet)."));
        }
    }

    private static async Task<(IReadOnlyList<int>[] Single, IReadOnlyList<int>[] Batch, IReadOnlyList<int> Lookup)> Run(GptModel model, bool cached)
    {
        var generator = GptGenerator.Create(model);
        var single = new List<IReadOnlyList<int>>();
        foreach (var prompt in Prompts)
        {
            single.Add((await generator.GenerateAsync(prompt, Greedy)).TokenIds);
        }

        // A graph without a cache runs one request at a time.
        var batch = cached ? [.. (await generator.GenerateBatchAsync(Prompts, [Greedy])).Select(r => r.TokenIds)] : single;
        var lookup = (await generator.GenerateAsync(Prompts[0], Lookup)).TokenIds;
        return ([.. single], [.. batch], lookup);
    }
}
