using System.Runtime.InteropServices;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Tests.Quantization;

[TestFixture]
public sealed class BlockQuantizerTests
{
    // Expected bytes computed once with numpy, following onnxruntime's matmul_nbits_quantizer.py (K zero-padded to
    // whole blocks) and MLAS BlockwiseQuantizer::quantizeAndTranspose (range2scale / range2scalezp, roundf, low nibble
    // first): the packed codes, the scales' float32 bytes and the zero points, as hex.
    [TestCase(64, 3, 4, 32, true, 2, "730C952EB63FD851EA72FB941DA63FC750E962FB831DA52EB74FD961FA730C95E962FB831DA52EB74FD961FA730C952EB63FD851EA72FB941DA63FC750E962FB8888888888888888888888888888888888888888888888888888888888888888", "0000803E0000803E0000803E0000803E0000008000000080", "", TestName = "4-bit symmetric")]
    [TestCase(64, 3, 4, 32, false, 2, "620B841CA53EB740D962FA831C952DB640C851EA730B942DA63FC851D9620B84C851EA730B942DA63FC851D9620B841CA53EB740D962FA831C952DB640C851EA0000000000000000000000000000000000000000000000000000000000000000", "8988883E8988883E8988883E8988883E0000000000000000", "777700", TestName = "4-bit asymmetric")]
    [TestCase(40, 2, 4, 16, false, -1, "730C952EB64FC851D961FA830C952EB650E962FB88888888E962FB831DA52EB73FC851D9620B841CB63FD85188888888", "3BA8833EDA8F7D3E3BA8833ED98F7D3E8988883ED98F7D3E", "78887888", TestName = "4-bit asymmetric, K padded")]
    [TestCase(32, 2, 8, 16, true, -1, "2E77C0004992DB1B65AEF73780C90952651BDB924900C0772EEEA55B12D2894094E21462B1FF3180CF004F9EEC1E6CBBFF4089D2125BA5EE2E77C0004992DB1B", "0000803C000080BCDBB66D3C0000803C", "", TestName = "8-bit symmetric")]
    [TestCase(32, 2, 8, 16, false, -1, "2F7BC6004B97E21C68B3FF3884D0095593E21462B1FF3180CE004F9DEC1E6CBB93E11362B0FF317FCD004E9CEB1D6BBAFF3F88D1125BA3EC2D76BF004891DA1B", "41D3773C82A56E3C81A56E3C8180803C", "84767F7F", TestName = "8-bit asymmetric")]
    public void Packing_matches_the_reference_bytes(int k, int n, int bits, int blockSize, bool symmetric, int zeroColumn, string packed, string scales, string zeroPoints)
    {
        var weight = Weight(k, n, zeroColumn);

        var q = BlockQuantizer.Quantize(weight, k, n, bits, blockSize, symmetric);

        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexString(q.Packed), Is.EqualTo(packed));
            Assert.That(Convert.ToHexString(MemoryMarshal.AsBytes(q.Scales.AsSpan())), Is.EqualTo(scales));
            Assert.That(q.ZeroPoints is null ? "" : Convert.ToHexString(q.ZeroPoints), Is.EqualTo(zeroPoints));
        });
    }

    [Test]
    public void A_transposed_source_gives_the_same_bytes_as_its_transpose()
    {
        const int k = 64, n = 5;
        var weight = Weight(k, n, -1);
        var transposed = new float[k * n];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < n; j++)
            {
                transposed[(j * k) + i] = weight[(i * n) + j];
            }
        }

        var direct = BlockQuantizer.Quantize(weight, k, n, 4, 32, symmetric: false);
        var viaTranspose = BlockQuantizer.Quantize(transposed, k, n, 4, 32, symmetric: false, transposed: true);

        Assert.Multiple(() =>
        {
            Assert.That(viaTranspose.Packed, Is.EqualTo(direct.Packed));
            Assert.That(viaTranspose.Scales, Is.EqualTo(direct.Scales));
            Assert.That(viaTranspose.ZeroPoints, Is.EqualTo(direct.ZeroPoints));
        });
    }

    [Test]
    public void Dequantized_weights_are_within_half_a_step_of_the_originals()
    {
        const int k = 64, n = 4, block = 32;
        var weight = Weight(k, n, -1);
        var q = BlockQuantizer.Quantize(weight, k, n, 4, block, symmetric: true);

        for (var j = 0; j < n; j++)
        {
            for (var i = 0; i < k; i++)
            {
                var b = i / block;
                var scale = q.Scales[(j * q.BlocksPerColumn) + b];
                var packedByte = q.Packed[(((j * q.BlocksPerColumn) + b) * block / 2) + (i % block / 2)];
                var code = i % 2 == 0 ? packedByte & 0xF : packedByte >> 4;
                // Half a step, except where the reference clamps: a block whose extremes are +m and -m maps -m to
                // code 0 and +m to 16, clamped to 15, one step short.
                var tolerance = code is 0 or 15 ? Math.Abs(scale) : Math.Abs(scale) / 2;
                Assert.That((code - 8) * scale, Is.EqualTo(weight[(i * n) + j]).Within(tolerance + 1e-6f), $"B[{i},{j}]");
            }
        }
    }

    [TestCase(3, 32, "bits")]
    [TestCase(4, 24, "blockSize")]
    [TestCase(8, 8, "blockSize")]
    public void Bad_settings_name_themselves(int bits, int blockSize, string name)
    {
        Assert.That(() => BlockQuantizer.Quantize(new float[64], 32, 2, bits, blockSize, symmetric: true),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Property(nameof(ArgumentException.ParamName)).EqualTo(name));
    }

    /// <summary>The reference script's matrix: B[i, j] = (((37i + 11j + 5) mod 29) - 14) / 7 in float32; column <paramref name="zeroColumn"/> all zeros.</summary>
    private static float[] Weight(int k, int n, int zeroColumn)
    {
        var weight = new float[k * n];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < n; j++)
            {
                weight[(i * n) + j] = j == zeroColumn ? 0f : ((((i * 37) + (j * 11) + 5) % 29) - 14) / 7f;
            }
        }

        return weight;
    }
}
