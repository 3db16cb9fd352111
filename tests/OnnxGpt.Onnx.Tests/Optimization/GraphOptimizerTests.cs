using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Generation;
using OnnxGpt.Onnx.Optimization;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Tests.Optimization;

[TestFixture]
public sealed class GraphOptimizerTests
{
    private static readonly string TinyShakespeare = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");
    private string _output = null!;
    private OptimizationResult _result = null!;

    [OneTimeSetUp]
    public void OptimizeTinyShakespeare()
    {
        _output = Directory.CreateTempSubdirectory("onnxgpt-optimize-").FullName;
        _result = GraphOptimizer.Optimize(new OptimizeOptions { ModelPath = TinyShakespeare, OutputDirectory = _output });
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_output, recursive: true);

    [Test]
    public void Every_fusion_reports_its_count_on_tiny_shakespeare()
    {
        using (Assert.EnterMultipleScope())
        {
            // 4 attentions; 4 layers x 2 LayerNorms + ln_f; every one but the embedding's (wte + wpe) takes a projection bias; 4 GELUs.
            Assert.That(_result.Fusions.Select(f => (f.Name, f.Count)), Is.EqualTo(new[]
            {
                ("MultiHeadAttention", 4), ("SkipLayerNormalization", 9), ("SkipSimplifiedLayerNormalization", 0), ("BiasSkipLayerNormalization", 8),
                ("FastGelu", 4), ("BiasFastGelu", 4), ("GeluCubeAsPow", 0), ("LogitsToKeep", 1),
            }));

            // LogitsToKeep adds a Neg, a Reshape and a Slice before the lm_head.
            Assert.That((_result.NodesBefore, _result.NodesAfter), Is.EqualTo((391, 87)));
            Assert.That(_result.OperatorsAfter["com.microsoft:SkipLayerNormalization"], Is.EqualTo(9));
            Assert.That(_result.OperatorsAfter["com.microsoft:FastGelu"], Is.EqualTo(4));
            Assert.That(_result.OperatorsAfter.ContainsKey("LayerNormalization"), Is.False);
            Assert.That(_result.OperatorsAfter.ContainsKey("Tanh"), Is.False);
            Assert.That((_result.OperatorsBefore["Add"], _result.OperatorsAfter["Add"]), Is.EqualTo((38, 5)));
            Assert.That(_result.CopiedFiles, Is.SupersetOf(new[] { "config.json", "tokenizer.json", "vocab.json", "merges.txt" }));
            Assert.That(File.Exists(Path.Combine(_output, "optimize_config.json")), Is.True);
        }
    }

    [Test]
    public void The_optimized_graphs_logits_equal_the_originals_over_a_prompt_and_16_cached_steps()
    {
        using var original = new InferenceSession(Path.Combine(TinyShakespeare, "model.onnx"));
        using var fused = new InferenceSession(_result.GraphPath);
        long[] ids = [39, 51, 49, 51, 33, 14, 198, 40, 481];
        var past = 0;
        var cacheA = EmptyCache();
        var cacheB = EmptyCache();
        var largest = 0f;
        for (var step = 0; step <= 16; step++)
        {
            var (logitsA, nextA) = Run(original, ids, past, cacheA);
            var (logitsB, nextB) = Run(fused, ids, past, cacheB);
            largest = Math.Max(largest, logitsA.Zip(logitsB).Max(p => Math.Abs(p.First - p.Second)));
            Assert.That(logitsB, Is.EqualTo(logitsA).Within(1e-4f), $"step {step}");
            past += ids.Length;
            (cacheA, cacheB) = (nextA, nextB);
            ids = [Array.IndexOf(logitsA, logitsA.Max())];
        }

        TestContext.Out.WriteLine($"largest logit difference over 17 runs: {largest:E2}");
    }

    [Test]
    public async Task Greedy_batched_rows_of_different_lengths_give_the_same_64_ids()
    {
        using var original = GptModel.Load(new GptOptions { ModelPath = TinyShakespeare, OptimizeGraph = false });
        using var optimized = GptModel.Load(_output);
        GptPrompt[] prompts = ["ROMEO:", "KING RICHARD III:\nNow is the winter of our discontent"];
        var greedy = new GenerationOptions { DoSample = false, MaxNewTokens = 64 };
        var expected = await GptGenerator.Create(original).GenerateBatchAsync(prompts, [greedy]);
        var actual = await GptGenerator.Create(optimized).GenerateBatchAsync(prompts, [greedy]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(new GptOptions().EnableBatching, Is.True, "batching is on by default: both rows run in one session run per step, with the attention mask padding the shorter");
            Assert.That(expected[0].PromptTokenIds, Has.Count.Not.EqualTo(expected[1].PromptTokenIds.Count));
            for (var row = 0; row < prompts.Length; row++)
            {
                Assert.That(actual[row].TokenIds, Has.Count.EqualTo(64));
                Assert.That(actual[row].TokenIds, Is.EqualTo(expected[row].TokenIds), $"row {row}");
            }
        }
    }

    [Test]
    public async Task A_quantized_graph_is_optimized_too_and_loads_as_a_variant_with_the_same_greedy_ids()
    {
        var folder = Directory.CreateTempSubdirectory("onnxgpt-optimize-q4-").FullName;
        try
        {
            ModelQuantizer.Quantize(TinyShakespeare, folder);
            var result = GraphOptimizer.Optimize(new OptimizeOptions { ModelPath = folder, OutputDirectory = folder, Variant = "fused" });
            using var q4 = GptModel.Load(folder);
            using var fused = GptModel.Load(new GptOptions { ModelPath = folder, Variant = "fused" });
            var greedy = new GenerationOptions { DoSample = false, MaxNewTokens = 32 };
            var expected = await GptGenerator.Create(q4).GenerateAsync("JULIET:", greedy);
            var actual = await GptGenerator.Create(fused).GenerateAsync("JULIET:", greedy);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.GraphPath, Is.EqualTo(Path.Combine(folder, "model_fused.onnx")));
                Assert.That(result.Fusions.Sum(f => f.Count), Is.EqualTo(30), "29 fusions and the int4 lm_head's LogitsToKeep");
                Assert.That(result.OperatorsAfter["com.microsoft:MatMulNBits"], Is.EqualTo(17));
                Assert.That(actual.TokenIds, Is.EqualTo(expected.TokenIds));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void Chosen_fusions_run_alone_and_unknown_names_or_overwriting_the_source_are_refused()
    {
        var folder = Directory.CreateTempSubdirectory("onnxgpt-optimize-some-").FullName;
        try
        {
            var options = new OptimizeOptions { ModelPath = TinyShakespeare, OutputDirectory = folder };
            options.Fusions.Add("fastgelu");
            var result = GraphOptimizer.Optimize(options);
            var unknown = new OptimizeOptions { ModelPath = TinyShakespeare, OutputDirectory = folder };
            unknown.Fusions.Add("Attention2");

            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.Fusions, Is.EqualTo(new[] { new FusionCount("FastGelu", 4) }));
                Assert.That(result.NodesAfter, Is.EqualTo(391 - (4 * (9 + 4)) + 4), "9 nodes and their 4 Constants per GELU become one FastGelu");
                Assert.That(() => GraphOptimizer.Optimize(unknown), Throws.TypeOf<OptimizationException>().With.Message.Contains("No fusion named 'Attention2'"));
                Assert.That(() => GraphOptimizer.Optimize(new OptimizeOptions { ModelPath = TinyShakespeare, OutputDirectory = TinyShakespeare }),
                    Throws.TypeOf<OptimizationException>().With.Message.Contains("would overwrite the source"));
                Assert.That(() => GraphOptimizer.Optimize(new OptimizeOptions { ModelPath = Path.Combine(folder, "missing"), OutputDirectory = folder }),
                    Throws.TypeOf<OptimizationException>().With.Message.Contains("No model folder"));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void LogitsToKeep_reaches_the_lm_head_through_an_identity_on_the_logits()
    {
        // The hub fixtures' graphs end in logits = Identity(MatMul(hidden, Transpose(embed))).
        var graph = Path.Combine(AppContext.BaseDirectory, "fixtures", "hub", "llama3", "onnx", "model.onnx");

        var rewrite = GraphOptimizer.Rewrite(graph, ["LogitsToKeep"]);
        var model = Protos.ModelProto.Parser.ParseFrom(rewrite.Graph);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rewrite.Fusions.Single().Count, Is.EqualTo(1));
            Assert.That(model.Graph.Input.Select(i => i.Name), Does.Contain("num_logits_to_keep"));
            Assert.That(model.Graph.Node.Select(n => n.OpType).Where(t => t is "Neg" or "Reshape" or "Slice"), Is.EqualTo(new[] { "Neg", "Reshape", "Slice" }));
            Assert.That(model.Graph.Node.Single(n => n.OpType == "MatMul" && n.Output[0] == "logits32").Input[0], Does.StartWith("logits_to_keep_hidden"));
        }
    }

    [Test]
    public void A_graph_no_fusion_matches_is_written_byte_for_byte_unchanged()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "fixtures", "hub", "llama3");
        var folder = Directory.CreateTempSubdirectory("onnxgpt-optimize-none-").FullName;
        try
        {
            // A tiny seeded graph (no norms, no GELU) with a Shape and an Identity nothing reads: those stay too.
            // Every default fusion but LogitsToKeep, which matches its lm_head (see the next test).
            var options = new OptimizeOptions { ModelPath = source, OutputDirectory = folder };
            foreach (var name in FusionRegistry.Names.Where(n => !FusionRegistry.OptIn.Contains(n) && n != "LogitsToKeep"))
            {
                options.Fusions.Add(name);
            }

            var result = GraphOptimizer.Optimize(options);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.Fusions.Select(f => f.Count), Is.All.Zero);
                Assert.That(result.Fusions.Select(f => f.Name), Does.Not.Contain("LogitsToKeep"));
                Assert.That((result.NodesBefore, result.NodesAfter), Is.EqualTo((12, 12)));
                Assert.That(File.ReadAllBytes(result.GraphPath), Is.EqualTo(File.ReadAllBytes(Path.Combine(source, "onnx", "model.onnx"))));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static DenseTensor<float>[] EmptyCache() => TinyShakespeareFeeds.EmptyCache();

    private static (float[] Logits, DenseTensor<float>[] Present) Run(InferenceSession session, long[] ids, int past, DenseTensor<float>[] cache)
    {
        Assert.That(cache[0].Dimensions[2], Is.EqualTo(past));
        var inputs = TinyShakespeareFeeds.Create(ids, batch: 1, cache);
        using var results = session.Run(inputs);
        var logits = results.Single(r => r.Name == "logits").AsTensor<float>();
        var vocabulary = logits.Dimensions[2];
        var last = logits.ToArray().AsSpan((ids.Length - 1) * vocabulary, vocabulary).ToArray();
        var present = new DenseTensor<float>[8];
        for (var layer = 0; layer < 4; layer++)
        {
            present[2 * layer] = Copy(results.Single(r => r.Name == $"present.{layer}.key").AsTensor<float>());
            present[(2 * layer) + 1] = Copy(results.Single(r => r.Name == $"present.{layer}.value").AsTensor<float>());
        }

        return (last, present);
    }

    private static DenseTensor<float> Copy(Tensor<float> tensor) => new(tensor.ToArray(), tensor.Dimensions.ToArray());
}
