using OnnxGpt.Onnx.Gguf;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Tests.Gguf;

[TestFixture]
public sealed class GgufConverterTests
{
    private static readonly string TinyShakespeare = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");
    private string _folder = null!;

    [OneTimeSetUp]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("onnxgpt-gguf-").FullName;

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_folder, recursive: true);

    private static float[] Onnx(string name)
    {
        var graph = ModelQuantizer.ReadModel(Path.Combine(TinyShakespeare, "model.onnx")).Graph;
        return ModelQuantizer.ReadFloats(graph.Initializer.Single(t => t.Name == name), TinyShakespeare);
    }

    [Test]
    public void F32_file_has_gpt2_metadata_tensor_names_and_transposed_conv1d_weights()
    {
        var path = Path.Combine(_folder, "f32.gguf");
        GgufConverter.Convert(TinyShakespeare, path, GgmlType.F32);
        var gguf = GgufTestReader.Read(path);
        var merges = File.ReadLines(Path.Combine(TinyShakespeare, "merges.txt")).Count(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(gguf.Metadata["general.architecture"], Is.EqualTo("gpt2"));
            Assert.That(gguf.Metadata["general.file_type"], Is.EqualTo(0u));
            Assert.That(gguf.Metadata["gpt2.block_count"], Is.EqualTo(4u));
            Assert.That(gguf.Metadata["gpt2.context_length"], Is.EqualTo(256u));
            Assert.That(gguf.Metadata["gpt2.embedding_length"], Is.EqualTo(256u));
            Assert.That(gguf.Metadata["gpt2.feed_forward_length"], Is.EqualTo(1024u));
            Assert.That(gguf.Metadata["gpt2.attention.head_count"], Is.EqualTo(8u));
            Assert.That(gguf.Metadata["gpt2.attention.layer_norm_epsilon"], Is.EqualTo(1e-5f));
            Assert.That(gguf.Metadata["tokenizer.ggml.model"], Is.EqualTo("gpt2"));
            Assert.That(gguf.Metadata["tokenizer.ggml.pre"], Is.EqualTo("gpt-2"));
            Assert.That((object[])gguf.Metadata["tokenizer.ggml.tokens"], Has.Length.EqualTo(2048));
            Assert.That(((object[])gguf.Metadata["tokenizer.ggml.tokens"])[0], Is.EqualTo("<|endoftext|>"));
            Assert.That(((object[])gguf.Metadata["tokenizer.ggml.token_type"])[..2], Is.EqualTo(new object[] { 3, 1 }));
            Assert.That((object[])gguf.Metadata["tokenizer.ggml.merges"], Has.Length.EqualTo(merges));
            Assert.That(((object[])gguf.Metadata["tokenizer.ggml.merges"])[0], Is.EqualTo("Ġ t"));
            Assert.That(gguf.Metadata["tokenizer.ggml.bos_token_id"], Is.EqualTo(0u));
            Assert.That(gguf.Metadata["tokenizer.ggml.eos_token_id"], Is.EqualTo(0u));

            // 4 + 12 per layer; tied lm_head: no output.weight.
            Assert.That(gguf.Tensors, Has.Count.EqualTo(4 + (4 * 12)));
            Assert.That(gguf.Tensors.Select(t => t.Name).Take(14), Is.EqualTo(new[]
            {
                "token_embd.weight", "position_embd.weight",
                "blk.0.attn_norm.weight", "blk.0.attn_norm.bias", "blk.0.attn_qkv.weight", "blk.0.attn_qkv.bias",
                "blk.0.attn_output.weight", "blk.0.attn_output.bias", "blk.0.ffn_norm.weight", "blk.0.ffn_norm.bias",
                "blk.0.ffn_up.weight", "blk.0.ffn_up.bias", "blk.0.ffn_down.weight", "blk.0.ffn_down.bias",
            }));
            Assert.That(gguf.Tensors.Select(t => t.Name).TakeLast(2), Is.EqualTo(new[] { "output_norm.weight", "output_norm.bias" }));
            var dims = gguf.Tensors.ToDictionary(t => t.Name, t => t.Dims);
            Assert.That(dims["token_embd.weight"], Is.EqualTo(new ulong[] { 256, 2048 }));
            Assert.That(dims["position_embd.weight"], Is.EqualTo(new ulong[] { 256, 256 }));
            Assert.That(dims["blk.0.attn_qkv.weight"], Is.EqualTo(new ulong[] { 256, 768 }));
            Assert.That(dims["blk.0.ffn_up.weight"], Is.EqualTo(new ulong[] { 256, 1024 }));
            Assert.That(dims["blk.0.ffn_down.weight"], Is.EqualTo(new ulong[] { 1024, 256 }));
            Assert.That(gguf.Tensors.Select(t => t.Type), Has.All.EqualTo(0u));
            Assert.That(gguf.Tensors.Select(t => t.Offset % 32), Has.All.EqualTo(0ul));
        }

        // ggml element (i0 = in, i1 = out) of attn_qkv is ONNX's c_attn.weight[in, out].
        var cAttn = Onnx("h.0.attn.c_attn.weight");
        foreach (var (input, output) in new[] { (0, 0), (1, 0), (0, 1), (255, 767), (17, 600) })
        {
            var bytes = gguf.ReadData(path, "blk.0.attn_qkv.weight", ((output * 256L) + input) * 4, 4);
            Assert.That(BitConverter.ToSingle(bytes), Is.EqualTo(cAttn[(input * 768) + output]), $"in {input}, out {output}");
        }

        var wte = Onnx("wte.weight");
        Assert.That(BitConverter.ToSingle(gguf.ReadData(path, "token_embd.weight", ((5 * 256L) + 7) * 4, 4)), Is.EqualTo(wte[(5 * 256) + 7]));
    }

    [Test]
    public void Q4_0_file_quantizes_each_output_row_with_llama_cpp_reference_and_keeps_norms_biases_and_positions_f32()
    {
        var path = Path.Combine(_folder, "q4.gguf");
        GgufConverter.Convert(TinyShakespeare, path, GgmlType.Q4_0);
        var gguf = GgufTestReader.Read(path);
        var types = gguf.Tensors.ToDictionary(t => t.Name, t => t.Type);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(gguf.Metadata["general.file_type"], Is.EqualTo(2u));
            Assert.That(types["token_embd.weight"], Is.EqualTo(2u));
            Assert.That(types["blk.3.ffn_down.weight"], Is.EqualTo(2u));
            Assert.That(types["position_embd.weight"], Is.EqualTo(0u));
            Assert.That(types["blk.0.attn_qkv.bias"], Is.EqualTo(0u));
            Assert.That(types["output_norm.weight"], Is.EqualTo(0u));
        }

        // Output row 700 of attn_qkv: column 700 of ONNX's [256, 768] c_attn weight, 8 blocks of 18 bytes.
        var cAttn = Onnx("h.0.attn.c_attn.weight");
        var column = Enumerable.Range(0, 256).Select(i => cAttn[(i * 768) + 700]).ToArray();
        Assert.That(gguf.ReadData(path, "blk.0.attn_qkv.weight", 700L * 8 * 18, 8 * 18), Is.EqualTo(GgmlReference.QuantizeRowQ4_0(column)));
    }

    [Test]
    public void A_graph_without_gpt2_weight_names_is_refused_with_the_reason()
    {
        var folder = Path.Combine(_folder, "renamed");
        Directory.CreateDirectory(folder);
        var model = ModelQuantizer.ReadModel(Path.Combine(TinyShakespeare, "model.onnx"));
        model.Graph.Initializer.Single(t => t.Name == "wpe.weight").Name = "position_table";
        using (var stream = File.Create(Path.Combine(folder, "model.onnx")))
        {
            Google.Protobuf.MessageExtensions.WriteTo(model, stream);
        }

        Assert.That(() => GgufConverter.Convert(folder, Path.Combine(_folder, "x.gguf"), GgmlType.F32),
            Throws.TypeOf<QuantizationException>().With.Message.Contains("no initializer 'wpe.weight'"));
    }
}
