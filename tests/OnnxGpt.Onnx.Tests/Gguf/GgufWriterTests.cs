using System.Text;
using OnnxGpt.Onnx.Gguf;

namespace OnnxGpt.Onnx.Tests.Gguf;

[TestFixture]
public sealed class GgufWriterTests
{
    [Test]
    public void Header_metadata_tensor_infos_and_data_are_these_bytes()
    {
        var writer = new GgufWriter();
        writer.AddString("general.architecture", "gpt2");
        writer.AddUInt32("gpt2.block_count", 2);
        writer.AddFloat32("gpt2.attention.layer_norm_epsilon", 1e-5f);
        writer.AddStringArray("tokenizer.ggml.tokens", ["a", "bc"]);
        writer.AddInt32Array("tokenizer.ggml.token_type", [1, 3]);
        writer.AddTensor("w", [32, 2], GgmlType.Q8_0, () => new byte[68]);
        writer.AddTensor("b", [3], GgmlType.F32, () => [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        using var stream = new MemoryStream();
        writer.Write(stream);

        var expected = new List<byte>();
        void U32(uint v) => expected.AddRange(BitConverter.GetBytes(v));
        void U64(ulong v) => expected.AddRange(BitConverter.GetBytes(v));
        void Str(string s)
        {
            U64((ulong)Encoding.UTF8.GetByteCount(s));
            expected.AddRange(Encoding.UTF8.GetBytes(s));
        }

        expected.AddRange("GGUF"u8.ToArray());
        U32(3);
        U64(2); // tensors
        U64(5); // metadata keys
        Str("general.architecture");
        U32(8);
        Str("gpt2");
        Str("gpt2.block_count");
        U32(4);
        U32(2);
        Str("gpt2.attention.layer_norm_epsilon");
        U32(6);
        expected.AddRange(BitConverter.GetBytes(1e-5f));
        Str("tokenizer.ggml.tokens");
        U32(9);
        U32(8);
        U64(2);
        Str("a");
        Str("bc");
        Str("tokenizer.ggml.token_type");
        U32(9);
        U32(5);
        U64(2);
        U32(1);
        U32(3);
        Str("w");
        U32(2);
        U64(32);
        U64(2);
        U32(8); // GGML_TYPE_Q8_0
        U64(0);
        Str("b");
        U32(1);
        U64(3);
        U32(0); // GGML_TYPE_F32
        U64(96); // 68 bytes of w, aligned to 32
        while (expected.Count % 32 != 0)
        {
            expected.Add(0);
        }

        expected.AddRange(new byte[68]);
        expected.AddRange(new byte[96 - 68]);
        expected.AddRange(Enumerable.Range(1, 12).Select(i => (byte)i));
        expected.AddRange(new byte[32 - 12]);

        Assert.That(stream.ToArray(), Is.EqualTo(expected.ToArray()));
    }

    [Test]
    public void A_tensor_whose_bytes_disagree_with_its_shape_is_refused()
    {
        var writer = new GgufWriter();
        writer.AddTensor("w", [32], GgmlType.Q4_0, () => new byte[17]);
        using var stream = new MemoryStream();
        Assert.That(() => writer.Write(stream), Throws.TypeOf<InvalidDataException>().With.Message.Contains("'w' produced 17 bytes").And.Message.Contains("need 18"));
    }
}
