using OnnxGpt.Onnx.Gguf;

namespace OnnxGpt.Onnx.Tests.Gguf;

[TestFixture]
public sealed class GgmlQuantizerTests
{
    private static IEnumerable<TestCaseData> Rows()
    {
        var random = new Random(14);
        float[] Normal(int n, float std) => [.. Enumerable.Range(0, n).Select(_ => (float)(std * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble())))];
        yield return new TestCaseData(Normal(32 * 64, 0.02f)).SetName("gpt2-like weights, 64 blocks");
        yield return new TestCaseData(Normal(32 * 8, 3f)).SetName("large values, 8 blocks");
        yield return new TestCaseData(new float[64]).SetName("all zeros (d = 0)");

        // Ties and exact multiples: |max| at a negative value and its positive mirror; codes on .5 boundaries.
        var ties = new float[32];
        for (var i = 0; i < 32; i++)
        {
            ties[i] = (i - 16) / 2f;
        }

        ties[3] = 8f;
        yield return new TestCaseData(ties).SetName("halves, +max equal to -max");
        yield return new TestCaseData(Enumerable.Range(0, 32).Select(i => i % 2 == 0 ? 1e-8f : -1e-8f).ToArray()).SetName("tiny values (f16 subnormal scale)");
        yield return new TestCaseData(Enumerable.Range(0, 32).Select(i => 70000f * (i - 15)).ToArray()).SetName("scale beyond f16 range");
    }

    [TestCaseSource(nameof(Rows))]
    public void Q8_0_blocks_equal_llama_cpp_reference(float[] row)
    {
        var actual = new byte[GgmlQuantizer.RowBytes(GgmlType.Q8_0, row.Length)];
        GgmlQuantizer.QuantizeQ8_0(row, actual);
        Assert.That(actual, Is.EqualTo(GgmlReference.QuantizeRowQ8_0(row)));
    }

    [TestCaseSource(nameof(Rows))]
    public void Q4_0_blocks_equal_llama_cpp_reference(float[] row)
    {
        var actual = new byte[GgmlQuantizer.RowBytes(GgmlType.Q4_0, row.Length)];
        GgmlQuantizer.QuantizeQ4_0(row, actual);
        Assert.That(actual, Is.EqualTo(GgmlReference.QuantizeRowQ4_0(row)));
    }

    [Test]
    public void Q4_0_of_a_known_block_is_these_bytes()
    {
        // max is -8 (the largest magnitude), so d = 1 and every code is trunc(x + 8.5): i for the first half, 15 - i for the second.
        var row = new float[32];
        for (var i = 0; i < 16; i++)
        {
            row[i] = i - 8;
            row[16 + i] = 7.25f - i;
        }

        var actual = new byte[18];
        GgmlQuantizer.QuantizeQ4_0(row, actual);
        var expected = new byte[18];
        expected[0] = 0x00;
        expected[1] = 0x3C; // f16 1.0
        for (var j = 0; j < 16; j++)
        {
            expected[2 + j] = (byte)(j | ((15 - j) << 4)); // first half in the low nibbles, second half in the high ones
        }

        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Q8_0_of_a_known_block_is_these_bytes()
    {
        var row = new float[32];
        row[0] = 127f;
        row[1] = -63.5f; // rounds away from zero: -64
        row[2] = 0.49f;
        var actual = new byte[34];
        GgmlQuantizer.QuantizeQ8_0(row, actual);
        var expected = new byte[34];
        expected[1] = 0x3C; // d = 127 / 127 = 1.0
        expected[2] = 127;
        expected[3] = unchecked((byte)-64);
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void A_row_that_is_not_whole_blocks_is_refused_naming_the_setting()
    {
        Assert.That(() => GgmlQuantizer.RowBytes(GgmlType.Q4_0, 48), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("columns"));
        Assert.That(GgmlQuantizer.RowBytes(GgmlType.F32, 48), Is.EqualTo(192));
    }
}
