using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Generation;
using OnnxGpt.Onnx.Optimization;
using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Tests.Optimization;

/// <summary>
/// The attention fusion on tiny-shakespeare: the exact nodes it leaves, and the fused graph computing what the
/// original computes (logits and present tensors) for a prefill with cached steps, a chunked prefill and left-padded
/// rows, run side by side in ONNX Runtime; then OnnxGpt's own generation, alone and batched, on both graphs.
/// </summary>
[TestFixture]
public sealed class AttentionFusionTests
{
    private const int Layers = TinyShakespeareFeeds.Layers;
    private const int Heads = TinyShakespeareFeeds.Heads;
    private const int HeadSize = TinyShakespeareFeeds.HeadSize;
    private const float Tolerance = 1e-4f;
    private static readonly string TinyShakespeare = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");
    private static readonly int[] Prompt = [859, 26, 199, 41, 456, 322, 269, 275, 405, 259];
    private string _output = null!;
    private OptimizationResult _result = null!;
    private InferenceSession _original = null!;
    private InferenceSession _fused = null!;

    [OneTimeSetUp]
    public void Fuse()
    {
        _output = Path.Combine(Path.GetTempPath(), "onnxgpt-attention-" + Guid.NewGuid().ToString("N"));
        var options = new OptimizeOptions { ModelPath = TinyShakespeare, OutputDirectory = _output };
        options.Fusions.Add("MultiHeadAttention");
        _result = GraphOptimizer.Optimize(options);
        _original = new InferenceSession(Path.Combine(TinyShakespeare, "model.onnx"));
        _fused = new InferenceSession(_result.GraphPath);
    }

    [OneTimeTearDown]
    public void Delete()
    {
        _original.Dispose();
        _fused.Dispose();
        Directory.Delete(_output, recursive: true);
    }

    [Test]
    public void Each_layers_attention_becomes_one_multiheadattention_and_the_graphs_interface_stays()
    {
        var original = ReadModel(Path.Combine(TinyShakespeare, "model.onnx")).Graph;
        var fused = ReadModel(_result.GraphPath).Graph;
        var attention = fused.Node.Where(n => n.OpType == "MultiHeadAttention").ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(_result.Fusions, Is.EqualTo(new[] { new FusionCount("MultiHeadAttention", 4) }));
            Assert.That(_result.NodesBefore, Is.EqualTo(391));
            Assert.That(_result.NodesAfter, Is.EqualTo(153));
            Assert.That(_result.OperatorsAfter, Is.EqualTo(new Dictionary<string, int>
            {
                ["Add"] = 34, ["And"] = 1, ["Cast"] = 2, ["Constant"] = 35, ["Gather"] = 4, ["Greater"] = 1, ["LayerNormalization"] = 9,
                ["LessOrEqual"] = 1, ["MatMul"] = 17, ["Mul"] = 24, ["Range"] = 2, ["Shape"] = 2, ["Split"] = 4, ["Sub"] = 1, ["Tanh"] = 4,
                ["Transpose"] = 1, ["Unsqueeze"] = 6, ["Where"] = 1, ["com.microsoft:MultiHeadAttention"] = 4,
            }));
            Assert.That(fused.Input.Select(i => i.Name), Is.EqualTo(original.Input.Select(i => i.Name)));
            Assert.That(fused.Output.Select(o => o.Name), Is.EqualTo(original.Output.Select(o => o.Name)));
            Assert.That(_fused.OutputMetadata["present.0.key"].Dimensions, Is.EqualTo(_original.OutputMetadata["present.0.key"].Dimensions));

            var first = attention[0];
            Assert.That(first.Domain, Is.EqualTo("com.microsoft"));
            Assert.That(first.Input, Is.EqualTo(new[]
            {
                "/h.0/attn/Split_output_0", "/h.0/attn/Split_output_1", "/h.0/attn/Split_output_2", "", "", "/Where_output_0",
                "past_key_values.0.key", "past_key_values.0.value",
            }));
            Assert.That(first.Output, Is.EqualTo(new[] { "/h.0/attn/Reshape_3_output_0", "present.0.key", "present.0.value" }));
            Assert.That(first.Attribute.Single(a => a.Name == "num_heads").I, Is.EqualTo(Heads));
            Assert.That(first.Attribute.Single(a => a.Name == "scale").F, Is.EqualTo(1 / 5.656854f));
            Assert.That(first.Attribute.Single(a => a.Name == "unidirectional").I, Is.Zero);
            Assert.That(attention.Select(a => a.Output[1]), Is.EqualTo(Enumerable.Range(0, Layers).Select(l => $"present.{l}.key")));
        }
    }

    [Test]
    public void A_prompt_prefill_then_16_cached_steps_give_the_originals_logits_and_cache()
    {
        var original = Run(_original, [Prompt], Empty(1), 0);
        var fused = Run(_fused, [Prompt], Empty(1), 0);
        AssertClose(fused, original, "prefill");
        for (var step = 0; step < 16; step++)
        {
            var next = ArgMax(original.Logits, original.Sequence - 1);
            var past = Prompt.Length + step;
            var originalPast = original.Present;
            original = Run(_original, [[next]], originalPast, past);
            fused = Run(_fused, [[next]], fused.Present, past);
            AssertClose(fused, original, $"step {step}");
        }
    }

    [Test]
    public void A_prefill_in_two_chunks_gives_the_originals_logits_with_the_causal_mask_over_the_chunk()
    {
        var whole = Run(_original, [Prompt], Empty(1), 0);
        var first = Run(_fused, [Prompt[..6]], Empty(1), 0);
        var second = Run(_fused, [Prompt[6..]], first.Present, 6);
        var originalSecond = Run(_original, [Prompt[6..]], Run(_original, [Prompt[..6]], Empty(1), 0).Present, 6);
        AssertClose(second, originalSecond, "second chunk");

        // The chunk's last position sees the whole prompt as the one-run prefill did.
        var vocabulary = whole.Logits.Length / whole.Sequence;
        var last = second.Logits.AsSpan((second.Sequence - 1) * vocabulary, vocabulary).ToArray();
        var expected = whole.Logits.AsSpan((whole.Sequence - 1) * vocabulary, vocabulary).ToArray();
        Assert.That(MaxDifference(last, expected), Is.LessThan(Tolerance));
    }

    [Test]
    public void Two_left_padded_rows_give_the_originals_logits_on_every_position()
    {
        // Row 1 is 4 tokens shorter: left-padded, masked, positions counted from its first real token.
        int[][] rows = [Prompt, [0, 0, 0, 0, .. Prompt[4..]]];
        long[][] mask = [[.. Enumerable.Repeat(1L, 10)], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]];
        var original = Run(_original, rows, Empty(2), 0, mask);
        var fused = Run(_fused, rows, Empty(2), 0, mask);
        AssertClose(fused, original, "padded prefill");
        for (var step = 0; step < 4; step++)
        {
            int[][] next = [[ArgMax(original.Logits, original.Sequence - 1)], [ArgMax(original.Logits, (2 * original.Sequence) - 1)]];
            mask = [[.. mask[0], 1], [.. mask[1], 1]];
            original = Run(_original, next, original.Present, 10 + step, mask);
            fused = Run(_fused, next, fused.Present, 10 + step, mask);
            AssertClose(fused, original, $"padded step {step}");
        }
    }

    [Test]
    public async Task OnnxGpts_greedy_ids_are_the_originals_for_64_tokens_alone_and_batched()
    {
        using var original = GptModel.Load(new GptOptions { ModelPath = TinyShakespeare, EnableBatching = true });
        using var fused = GptModel.Load(new GptOptions { ModelPath = _output, EnableBatching = true });
        var greedy = new GenerationOptions { DoSample = false, MaxNewTokens = 64 };
        var expected = await GptGenerator.Create(original).GenerateAsync("ROMEO:", greedy);
        var actual = await GptGenerator.Create(fused).GenerateAsync("ROMEO:", greedy);

        GptPrompt[] prompts = ["ROMEO:", "First Citizen:\nBefore we proceed any further, hear me speak."];
        var expectedBatch = await GptGenerator.Create(original).GenerateBatchAsync(prompts, [greedy]);
        var actualBatch = await GptGenerator.Create(fused).GenerateBatchAsync(prompts, [greedy]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(actual.GeneratedTokenCount, Is.EqualTo(64));
            Assert.That(actual.TokenIds, Is.EqualTo(expected.TokenIds));
            Assert.That(actualBatch[0].TokenIds, Is.EqualTo(expectedBatch[0].TokenIds));
            Assert.That(actualBatch[1].TokenIds, Is.EqualTo(expectedBatch[1].TokenIds));
            Assert.That(actualBatch[0].TokenIds, Is.EqualTo(expected.TokenIds), "the batched row is the single run");
            Assert.That(actualBatch[1].PromptTokenCount, Is.GreaterThan(actualBatch[0].PromptTokenCount + 4), "rows of different lengths");
        }
    }

    [Test]
    public void A_graph_whose_attention_differs_from_the_pattern_is_left_unchanged()
    {
        // Split into unequal parts: the q, k, v widths no longer say heads x head size, so nothing is fused.
        var model = ReadModel(Path.Combine(TinyShakespeare, "model.onnx"));
        var source = Directory.CreateTempSubdirectory("onnxgpt-attention-src-").FullName;
        var output = source + "-out";
        try
        {
            var graph = model.Graph;
            var split = graph.Node.First(n => n.OpType == "Split");
            var sizes = graph.Node.Single(n => n.Output[0] == split.Input[1]);
            sizes.Attribute[0].T.RawData = ByteString.CopyFrom([.. BitConverter.GetBytes(255L), .. BitConverter.GetBytes(257L), .. BitConverter.GetBytes(256L)]);
            var softmax = graph.Node.Where(n => n.OpType == "Softmax").Skip(1).First();
            softmax.Attribute.Single(a => a.Name == "axis").I = 2;
            var add = graph.Node.Single(n => n.Output[0] == graph.Node.Where(s => s.OpType == "Softmax").Skip(2).First().Input[0]);
            add.Input[1] = add.Input[0];
            var present = graph.Node.Single(n => n.Output[0] == "present.3.key");
            present.Attribute.Single(a => a.Name == "axis").I = 1;
            using (var stream = File.Create(Path.Combine(source, "model.onnx")))
            {
                model.WriteTo(stream);
            }

            var options = new OptimizeOptions { ModelPath = source, OutputDirectory = output };
            options.Fusions.Add("MultiHeadAttention");
            var result = GraphOptimizer.Optimize(options);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.Fusions, Is.EqualTo(new[] { new FusionCount("MultiHeadAttention", 0) }));
                Assert.That(result.NodesAfter, Is.EqualTo(result.NodesBefore));
                Assert.That(ReadModel(result.GraphPath).Graph.Node.Select(n => n.OpType), Is.EqualTo(graph.Node.Select(n => n.OpType)));
            }
        }
        finally
        {
            Directory.Delete(source, recursive: true);
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [TestCase("gpt2-tiny", 2)]
    [TestCase("gpt2-tiny-combined", 2)]
    [TestCase("gpt2-tiny-nocache", 2)]
    [TestCase("tiny-shakespeare-dynamo", 0)]
    [TestCase("tiny-llama-shakespeare", 0)]
    public async Task Every_graph_convention_is_fused_where_it_matches_and_generates_the_originals_ids(string fixture, int expected)
    {
        // Combined past (one [2, batch, heads, past, head size] tensor a layer) and no cache at all (the exporter's
        // empty past) match too; the dynamo export (constant shapes) and Llama (rotary, grouped heads) do not.
        var source = Path.Combine(AppContext.BaseDirectory, "fixtures", "conventions", fixture);
        var output = Path.Combine(Path.GetTempPath(), "onnxgpt-attention-" + fixture + "-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new OptimizeOptions { ModelPath = source, OutputDirectory = output };
            options.Fusions.Add("MultiHeadAttention");
            var result = GraphOptimizer.Optimize(options);
            using var original = GptModel.Load(source);
            using var fused = GptModel.Load(output);
            var greedy = new GenerationOptions { DoSample = false, MaxNewTokens = 24 };
            var prompt = GptPrompt.FromTokenIds([1, 2, 3, 4, 5]);
            var want = await GptGenerator.Create(original).GenerateAsync(prompt, greedy);
            var got = await GptGenerator.Create(fused).GenerateAsync(prompt, greedy);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.Fusions.Single().Count, Is.EqualTo(expected));
                Assert.That(result.OperatorsAfter.GetValueOrDefault("com.microsoft:MultiHeadAttention"), Is.EqualTo(expected));
                Assert.That(result.NodesAfter == result.NodesBefore, Is.EqualTo(expected == 0));
                Assert.That(got.TokenIds, Is.EqualTo(want.TokenIds));
                Assert.That(got.GeneratedTokenCount, Is.EqualTo(want.GeneratedTokenCount));
            }
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    private static ModelProto ReadModel(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }

    private static float[][] Empty(int batch) => [.. Enumerable.Range(0, 2 * Layers).Select(_ => new float[batch * Heads * 0 * HeadSize])];

    private static Outputs Run(InferenceSession session, int[][] ids, float[][] past, int pastLength, long[][]? mask = null)
    {
        var batch = ids.Length;
        var sequence = ids[0].Length;
        var total = pastLength + sequence;
        mask ??= [.. Enumerable.Range(0, batch).Select(_ => Enumerable.Repeat(1L, total).ToArray())];
        var positions = new long[batch * sequence];
        for (var b = 0; b < batch; b++)
        {
            // Hugging Face's: cumulative mask minus one, padding at 1.
            long seen = 0;
            for (var t = 0; t < total; t++)
            {
                seen += mask[b][t];
                if (t >= pastLength)
                {
                    positions[(b * sequence) + t - pastLength] = mask[b][t] == 0 ? 1 : seen - 1;
                }
            }
        }

        var cache = past.Select(p => new DenseTensor<float>(p, [batch, Heads, pastLength, HeadSize])).ToArray();
        var inputs = TinyShakespeareFeeds.Create([.. ids.SelectMany(r => r.Select(i => (long)i))], batch, cache, [.. mask.SelectMany(r => r)], positions);
        using var results = session.Run(inputs);
        var byName = results.ToDictionary(r => r.Name, r => r.AsTensor<float>().ToArray());
        var present = Enumerable.Range(0, Layers).SelectMany(l => new[] { byName[$"present.{l}.key"], byName[$"present.{l}.value"] }).ToArray();
        return new Outputs(byName["logits"], present, sequence);
    }

    private static int ArgMax(float[] logits, int position)
    {
        const int vocabulary = 2048;
        var row = logits.AsSpan(position * vocabulary, vocabulary);
        var best = 0;
        for (var i = 1; i < row.Length; i++)
        {
            if (row[i] > row[best])
            {
                best = i;
            }
        }

        return best;
    }

    private static float MaxDifference(float[] actual, float[] expected)
    {
        Assert.That(actual, Has.Length.EqualTo(expected.Length));
        var largest = 0f;
        for (var i = 0; i < actual.Length; i++)
        {
            largest = Math.Max(largest, Math.Abs(actual[i] - expected[i]));
        }

        return largest;
    }

    private static void AssertClose(Outputs actual, Outputs expected, string what)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(MaxDifference(actual.Logits, expected.Logits), Is.LessThan(Tolerance), what + ": logits");
            for (var i = 0; i < expected.Present.Length; i++)
            {
                Assert.That(MaxDifference(actual.Present[i], expected.Present[i]), Is.LessThan(Tolerance), $"{what}: present {i}");
            }
        }
    }

    private sealed record Outputs(float[] Logits, float[][] Present, int Sequence);
}
