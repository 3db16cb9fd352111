using OnnxGpt.Evaluation;
using OnnxGpt.Generation;
using OnnxGpt.Onnx.Protos;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Tests.Quantization;

[TestFixture]
public sealed class ModelQuantizerTests
{
    private static readonly string TinyShakespeare = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");
    private string _output = null!;
    private QuantizationResult _result = null!;

    [OneTimeSetUp]
    public void QuantizeTinyShakespeare()
    {
        _output = Path.Combine(Path.GetTempPath(), "onnxgpt-quantize-" + Guid.NewGuid().ToString("N"));
        _result = ModelQuantizer.Quantize(TinyShakespeare, _output);
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_output, recursive: true);

    [Test]
    public void Every_constant_weight_matmul_becomes_matmulnbits_the_tied_lm_head_included()
    {
        var model = ReadModel(_result.GraphPath);
        var graph = model.Graph;
        var nbits = graph.Node.Where(n => n.OpType == "MatMulNBits").ToList();
        var initializers = graph.Initializer.ToDictionary(t => t.Name);

        Assert.Multiple(() =>
        {
            // 4 layers x (c_attn, attn c_proj, c_fc, mlp c_proj) + lm_head through Transpose(wte).
            Assert.That(nbits, Has.Count.EqualTo(17));
            Assert.That(_result.Quantized, Does.Contain("/Transpose_output_0"));
            Assert.That(graph.Node.Where(n => n.OpType == "MatMul").Select(n => n.Input[1]).Where(initializers.ContainsKey), Is.Empty);
            Assert.That(graph.Node.Any(n => n.OpType == "Transpose" && n.Input[0] == "wte.weight"), Is.False, "the lm_head's Transpose is gone");
            Assert.That(initializers.ContainsKey("wte.weight"), Is.True, "the embedding's Gather still reads wte");
            Assert.That(model.OpsetImport.Any(o => o.Domain == "com.microsoft" && o.Version == 1), Is.True);
            var lmHead = nbits.Single(n => n.Input[1] == "/Transpose_output_0_Q4");
            Assert.That(lmHead.Domain, Is.EqualTo("com.microsoft"));
            Assert.That(lmHead.Attribute.ToDictionary(a => a.Name, a => a.I), Is.EqualTo(new Dictionary<string, long> { ["K"] = 256, ["N"] = 2048, ["bits"] = 4, ["block_size"] = 32, ["accuracy_level"] = 4 }));
            Assert.That(initializers["/Transpose_output_0_Q4"].Dims, Is.EqualTo(new long[] { 2048, 8, 16 }));
            Assert.That(initializers["/Transpose_output_0_scales"].Dims, Is.EqualTo(new long[] { 2048 * 8 }));
            Assert.That(initializers["/Transpose_output_0_Q4"].DataLocation, Is.EqualTo(TensorProto.Types.DataLocation.External));
            Assert.That(_result.CopiedFiles, Is.SupersetOf(new[] { "config.json", "generation_config.json", "tokenizer.json", "vocab.json", "merges.txt" }));
            Assert.That(File.Exists(Path.Combine(_output, "quantize_config.json")), Is.True);
            Assert.That(_result.OutputBytes, Is.LessThan(_result.SourceBytes / 2));
        });
    }

    [Test]
    public async Task The_int4_model_loads_predicts_like_the_original_and_keeps_its_perplexity()
    {
        using var original = GptModel.Load(TinyShakespeare);
        using var quantized = GptModel.Load(_output);
        var greedy = new GenerationOptions { DoSample = false };
        foreach (var prompt in new[] { "ROMEO:", "First Citizen:\nWe are", "KING RICHARD III:\nNow is the winter of our" })
        {
            var expected = await GptGenerator.Create(original).GetNextTokenDistributionAsync(prompt, greedy);
            var actual = await GptGenerator.Create(quantized).GetNextTokenDistributionAsync(prompt, greedy);
            Assert.That(Top(actual), Is.EqualTo(Top(expected)), prompt);
        }

        // Held-out text: the corpus' last 10% (the usual validation split); 2,000 characters keep the test short.
        var corpus = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "fixtures", "data", "tinyshakespeare.txt"));
        var text = corpus.Substring(corpus.Length * 9 / 10, 2000);
        var ids = original.Tokenizer!.Encode(text, addSpecialTokens: false);
        var fp32 = await Perplexity.ComputeAsync(original, ids);
        var int4 = await Perplexity.ComputeAsync(quantized, ids);
        TestContext.Out.WriteLine($"held-out perplexity over {fp32.Tokens} tokens: fp32 {fp32.Value:F3}, int4 {int4.Value:F3} ({int4.Value / fp32.Value:F4}x)");

        var generated = await GptGenerator.Create(quantized).GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 24 });
        Assert.Multiple(() =>
        {
            Assert.That(int4.Value / fp32.Value, Is.InRange(1.0, 1.05));
            Assert.That(generated.GeneratedTokenCount, Is.EqualTo(24));
            Assert.That(generated.Text, Does.Match("[a-z]{3,}"), "words, not noise");
        });
    }

    [Test]
    public void A_graph_without_constant_weights_is_refused_with_the_reason()
    {
        var source = Path.Combine(Path.GetTempPath(), "onnxgpt-quantize-src-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(source);
        try
        {
            // The quantized output has no float MatMul weights left.
            File.Copy(_result.GraphPath, Path.Combine(source, "model.onnx"));
            File.Copy(_result.DataPath, Path.Combine(source, Path.GetFileName(_result.DataPath)));

            Assert.That(() => ModelQuantizer.Quantize(source, source + "-out"),
                Throws.TypeOf<QuantizationException>().With.Message.Contains("has no MatMul with a constant 2-D float32 weight"));
            Assert.That(() => ModelQuantizer.Quantize(Path.Combine(source, "missing"), source + "-out"),
                Throws.TypeOf<QuantizationException>().With.Message.Contains("No model folder"));
            Assert.That(() => ModelQuantizer.Quantize(TinyShakespeare, source + "-out", new QuantizeOptions { Bits = 3 }),
                Throws.TypeOf<ArgumentOutOfRangeException>());
        }
        finally
        {
            Directory.Delete(source, recursive: true);
        }
    }

    [Test]
    public void Excluded_weights_stay_float_and_a_variant_goes_to_the_hub_layout()
    {
        var output = Path.Combine(Path.GetTempPath(), "onnxgpt-quantize-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new QuantizeOptions { Bits = 8, Symmetric = false, Variant = "int8" };
            options.Exclude.Add("/Transpose_output_0");
            var result = ModelQuantizer.Quantize(TinyShakespeare, output, options);
            var graph = ReadModel(result.GraphPath).Graph;

            Assert.Multiple(() =>
            {
                Assert.That(result.GraphPath, Is.EqualTo(Path.Combine(output, "onnx", "model_int8.onnx")));
                Assert.That(result.Quantized, Has.Count.EqualTo(16));
                Assert.That(result.Skipped, Is.EqualTo(new[] { "/Transpose_output_0: excluded" }));
                Assert.That(graph.Node.Count(n => n.OpType == "MatMulNBits" && n.Input.Count == 4), Is.EqualTo(16), "zero points when asymmetric");
                Assert.That(graph.Node.Any(n => n.OpType == "Transpose" && n.Input[0] == "wte.weight"), Is.True);
            });
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Test]
    public async Task The_int4_embedding_runs_as_gatherblockquantized_with_logits_close_to_the_matmulnbits_only_graph()
    {
        var output = Path.Combine(Path.GetTempPath(), "onnxgpt-quantize-emb-" + Guid.NewGuid().ToString("N"));
        try
        {
            var result = ModelQuantizer.Quantize(TinyShakespeare, output, new QuantizeOptions { QuantizeEmbedding = true });
            var graph = ReadModel(result.GraphPath).Graph;
            var initializers = graph.Initializer.ToDictionary(t => t.Name);
            var gather = graph.Node.Single(n => n.OpType == "GatherBlockQuantized");
            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.QuantizedEmbedding, Is.EqualTo("wte.weight"));
                Assert.That(gather.Domain, Is.EqualTo("com.microsoft"));
                Assert.That(gather.Input, Is.EqualTo(new[] { "wte.weight_Q4", "input_ids", "wte.weight_scales" }));
                Assert.That(gather.Attribute.ToDictionary(a => a.Name, a => a.I), Is.EqualTo(new Dictionary<string, long> { ["bits"] = 4, ["block_size"] = 32, ["gather_axis"] = 0, ["quantize_axis"] = 1 }));
                Assert.That(initializers["wte.weight_Q4"].Dims, Is.EqualTo(new long[] { 2048, 128 }));
                Assert.That(initializers["wte.weight_scales"].Dims, Is.EqualTo(new long[] { 2048, 8 }));
                Assert.That(initializers.ContainsKey("wte.weight"), Is.False, "nothing reads the float table any more");
                Assert.That(graph.Node.Any(n => n.OpType == "Gather" && n.Input[0] == "wpe.weight"), Is.True, "the position table stays float");
                Assert.That(_result.OutputBytes - result.OutputBytes, Is.GreaterThan((2048 * 256 * 4) - (2048 * 128) - (2048 * 8 * 4) - 4096));
            }

            // Same packing as the lm_head's MatMulNBits of Transpose(wte): the two tensors hold the same bytes.
            var lmHead = ReadModel(_result.GraphPath).Graph.Initializer.Single(t => t.Name == "/Transpose_output_0_Q4");
            Assert.That(Bytes(initializers["wte.weight_Q4"], output), Is.EqualTo(Bytes(lmHead, _output)));

            using var matMulOnly = GptModel.Load(_output);
            using var withEmbedding = GptModel.Load(output);
            var greedy = new GenerationOptions { DoSample = false };
            foreach (var prompt in new[] { "ROMEO:", "First Citizen:\nWe are", "KING RICHARD III:\nNow is the winter of our" })
            {
                var expected = await GptGenerator.Create(matMulOnly).GetNextTokenDistributionAsync(prompt, greedy);
                var actual = await GptGenerator.Create(withEmbedding).GetNextTokenDistributionAsync(prompt, greedy);
                var largest = expected.Probabilities.Zip(actual.Probabilities).Max(p => Math.Abs(p.First - p.Second));
                TestContext.Out.WriteLine($"{prompt.Replace("\n", " ", StringComparison.Ordinal)}: largest probability difference {largest:E2}");
                Assert.That(largest, Is.LessThan(0.02), prompt);
            }

            var corpus = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "fixtures", "data", "tinyshakespeare.txt"));
            var ids = matMulOnly.Tokenizer!.Encode(corpus.Substring(corpus.Length * 9 / 10, 2000), addSpecialTokens: false);
            var int4 = await Perplexity.ComputeAsync(matMulOnly, ids);
            var int4Embedding = await Perplexity.ComputeAsync(withEmbedding, ids);
            TestContext.Out.WriteLine($"held-out perplexity: MatMulNBits only {int4.Value:F3}, with the int4 embedding {int4Embedding.Value:F3} ({int4Embedding.Value / int4.Value:F4}x)");
            Assert.That(int4Embedding.Value / int4.Value, Is.InRange(0.98, 1.02));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    [Test]
    public async Task A_variant_quantized_into_its_own_folder_goes_beside_model_onnx_and_loads_by_name()
    {
        var folder = Directory.CreateTempSubdirectory("onnxgpt-quantize-same-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(TinyShakespeare))
            {
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            }

            var result = ModelQuantizer.Quantize(folder, folder, new QuantizeOptions { Variant = "q4" });
            using var model = GptModel.Load(new OnnxGpt.Generation.GptOptions { ModelPath = folder, Variant = "q4" });
            var generated = await GptGenerator.Create(model).GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 4 });
            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.GraphPath, Is.EqualTo(Path.Combine(folder, "model_q4.onnx")));
                Assert.That(generated.GeneratedTokenCount, Is.EqualTo(4));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static byte[] Bytes(TensorProto tensor, string folder)
    {
        var entries = tensor.ExternalData.ToDictionary(e => e.Key, e => e.Value);
        using var file = File.OpenRead(Path.Combine(folder, entries["location"]));
        file.Position = long.Parse(entries["offset"], System.Globalization.CultureInfo.InvariantCulture);
        var bytes = new byte[int.Parse(entries["length"], System.Globalization.CultureInfo.InvariantCulture)];
        file.ReadExactly(bytes);
        return bytes;
    }

    private static int Top(NextTokenDistribution distribution) =>
        distribution.AllowedTokenIds[distribution.Probabilities.Select((p, i) => (p, i)).MaxBy(x => x.p).i];

    private static ModelProto ReadModel(string path)
    {
        using var stream = File.OpenRead(path);
        return ModelProto.Parser.ParseFrom(stream);
    }
}
