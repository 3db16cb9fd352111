using System.Text;
using System.Text.Json;
using OnnxGpt.Generation;
using OnnxGpt.Models;

namespace OnnxGpt.Tests.Models;

/// <summary>
/// Every hub fixture and every graph variant (fp32, fp16 with float16 cache and logits, q4 with MatMulNBits, external
/// data) generates transformers.js's greedy ids from <c>reference.json</c>, fed the reference's prompt ids.
/// </summary>
[TestFixture]
public sealed class HubGreedyTests
{
    private static readonly string[] Hubs = ["qwen3", "llama3", "gemma3", "mistral"];

    /// <summary>One reference.json greedy entry with the variant it was recorded on.</summary>
    public sealed record HubCase(string Hub, string Name, string DType, int[] PromptIds, int[] GreedyIds, int EosTokenId)
    {
        public override string ToString() => $"{Hub}/{Name}";
    }

    private static IEnumerable<TestCaseData> Cases() =>
        Hubs.SelectMany(Read).Select(c => new TestCaseData(c, c.DType).SetName($"Greedy_{c.Hub}_{c.DType}"));

    [TestCaseSource(nameof(Cases))]
    public async Task Greedy_ids_equal_the_reference(HubCase c, string variant) =>
        await AssertGreedy(c, new GptOptions { ModelPath = TestPaths.Hub(c.Hub), Variant = variant == ModelFolder.DefaultVariant ? null : variant }, variant);

    [Test]
    public async Task The_external_data_variant_gives_the_fp32_ids() =>
        await AssertGreedy(Read("qwen3").Single(c => c.DType == "fp32"), new GptOptions { ModelPath = TestPaths.Hub("qwen3"), Variant = "external" }, "external");

    [Test]
    public async Task External_data_loads_under_whatever_name_the_graph_gives()
    {
        // The same graph, moved to a folder root as model.onnx, naming its data 'model_external.onnx.data' (Optimum's
        // other spelling): ONNX Runtime finds it beside the graph because the graph is loaded from its path.
        var hub = TestPaths.Hub("qwen3");
        using var dir = new TempDirectory();
        foreach (var file in new[] { "config.json", "generation_config.json" })
        {
            File.Copy(Path.Combine(hub, file), dir.File(file));
        }

        File.Copy(Path.Combine(hub, "onnx", "model_external.onnx"), dir.File("model.onnx"));
        File.Copy(Path.Combine(hub, "onnx", "model_external.onnx_data"), dir.File("model_external.onnx.data"));
        ReplaceSameLength(dir.File("model.onnx"), "model_external.onnx_data", "model_external.onnx.data");

        var folder = ModelFolder.Resolve(dir.Path);
        Assert.That(folder.ExternalDataFiles, Is.EqualTo(new[] { dir.File("model_external.onnx.data") }));
        await AssertGreedy(Read("qwen3").Single(c => c.DType == "fp32"), new GptOptions { ModelPath = dir.Path }, "fp32");
    }

    [Test]
    public async Task A_hub_cache_snapshot_of_links_into_blobs_loads()
    {
        // Hugging Face's cache: snapshots/<revision>/onnx/* are links to content-addressed files in blobs/.
        var hub = TestPaths.Hub("qwen3");
        using var cache = new TempDirectory();
        var snapshot = HubCacheSnapshot.CreateExternal(cache, hub);

        await AssertGreedy(Read("qwen3").Single(c => c.DType == "fp32"), new GptOptions { ModelPath = snapshot, Variant = "external" }, "external");
    }

    private static async Task AssertGreedy(HubCase c, GptOptions options, string variant)
    {
        using var model = GptModel.Load(options);
        var generator = GptGenerator.Create(model);
        var result = await generator.GenerateAsync(GptPrompt.FromTokenIds(c.PromptIds), new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });

        // transformers.js stops at eos and keeps it: the reference ends there when it was produced.
        var stoppedAtEos = c.GreedyIds.Length > 0 && c.GreedyIds[^1] == c.EosTokenId;
        Assert.Multiple(() =>
        {
            Assert.That(model.Info.Variant, Is.EqualTo(variant));
            Assert.That(result.TokenIds, Is.EqualTo(c.GreedyIds));
            Assert.That(result.FinishReason, Is.EqualTo(stoppedAtEos ? FinishReason.Eos : FinishReason.Length));
        });
    }

    private static IEnumerable<HubCase> Read(string hub)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Hub(hub), "reference.json")));
        var eos = doc.RootElement.GetProperty("eos_token_id").GetInt32();
        var cases = new List<HubCase>();
        foreach (var entry in doc.RootElement.GetProperty("greedy").EnumerateObject())
        {
            cases.Add(new HubCase(
                hub,
                entry.Name,
                entry.Value.GetProperty("dtype").GetString()!,
                [.. entry.Value.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. entry.Value.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32())],
                eos));
        }

        return cases;
    }

    /// <summary>Replaces every occurrence of an ASCII string by one of the same length in a binary file (here a graph's external data locations).</summary>
    private static void ReplaceSameLength(string path, string from, string to)
    {
        Assert.That(to, Has.Length.EqualTo(from.Length));
        var bytes = File.ReadAllBytes(path);
        var needle = Encoding.ASCII.GetBytes(from);
        var replaced = 0;
        for (var at = bytes.AsSpan().IndexOf(needle); at >= 0; at = bytes.AsSpan().IndexOf(needle))
        {
            Encoding.ASCII.GetBytes(to).CopyTo(bytes, at);
            replaced++;
        }

        Assert.That(replaced, Is.GreaterThan(0), $"'{from}' in {path}");
        File.WriteAllBytes(path, bytes);
    }
}
