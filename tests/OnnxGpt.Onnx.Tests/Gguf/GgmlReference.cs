namespace OnnxGpt.Onnx.Tests.Gguf;

/// <summary>
/// llama.cpp's C code, transcribed line by line as the oracle: ggml-quants.c's <c>quantize_row_q8_0_ref</c> and
/// <c>quantize_row_q4_0_ref</c>, and ggml-impl.h's <c>ggml_compute_fp32_to_fp16</c> (the bit-exact software path).
/// </summary>
internal static class GgmlReference
{
    private const int Qk = 32;

    public static byte[] QuantizeRowQ8_0(float[] x)
    {
        var nb = x.Length / Qk;
        var y = new byte[nb * 34];
        for (var i = 0; i < nb; i++)
        {
            var amax = 0.0f; // absolute max
            for (var j = 0; j < Qk; j++)
            {
                var v = x[(i * Qk) + j];
                amax = MathF.Max(amax, MathF.Abs(v));
            }

            var d = amax / ((1 << 7) - 1);
            var id = d != 0 ? 1.0f / d : 0.0f;
            PutHalf(y, i * 34, Fp32ToFp16(d));
            for (var j = 0; j < Qk; ++j)
            {
                var x0 = x[(i * Qk) + j] * id;
                y[(i * 34) + 2 + j] = (byte)(sbyte)RoundF(x0);
            }
        }

        return y;
    }

    public static byte[] QuantizeRowQ4_0(float[] x)
    {
        var nb = x.Length / Qk;
        var y = new byte[nb * 18];
        for (var i = 0; i < nb; i++)
        {
            var amax = 0.0f; // absolute max
            var max = 0.0f;
            for (var j = 0; j < Qk; j++)
            {
                var v = x[(i * Qk) + j];
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }

            var d = max / -8;
            var id = d != 0 ? 1.0f / d : 0.0f;
            PutHalf(y, i * 18, Fp32ToFp16(d));
            for (var j = 0; j < Qk / 2; ++j)
            {
                var x0 = x[(i * Qk) + 0 + j] * id;
                var x1 = x[(i * Qk) + (Qk / 2) + j] * id;
                var xi0 = (byte)Math.Min((sbyte)15, (sbyte)(x0 + 8.5f));
                var xi1 = (byte)Math.Min((sbyte)15, (sbyte)(x1 + 8.5f));
                y[(i * 18) + 2 + j] = xi0;
                y[(i * 18) + 2 + j] |= (byte)(xi1 << 4);
            }
        }

        return y;
    }

    /// <summary>C's roundf: to nearest, halves away from zero.</summary>
    private static float RoundF(float v) => MathF.Round(v, MidpointRounding.AwayFromZero);

    private static void PutHalf(byte[] y, int at, ushort h)
    {
        y[at] = (byte)h;
        y[at + 1] = (byte)(h >> 8);
    }

    /// <summary>ggml_compute_fp32_to_fp16 (from FP16 by Maratyszcza, as ggml-impl.h has it).</summary>
    private static ushort Fp32ToFp16(float f)
    {
        var scaleToInf = BitConverter.UInt32BitsToSingle(0x77800000u);
        var scaleToZero = BitConverter.UInt32BitsToSingle(0x08800000u);
        var b = (MathF.Abs(f) * scaleToInf) * scaleToZero;
        var w = BitConverter.SingleToUInt32Bits(f);
        var shl1W = w + w;
        var sign = w & 0x80000000u;
        var bias = shl1W & 0xFF000000u;
        if (bias < 0x71000000u)
        {
            bias = 0x71000000u;
        }

        b = BitConverter.UInt32BitsToSingle((bias >> 1) + 0x07800000u) + b;
        var bits = BitConverter.SingleToUInt32Bits(b);
        var expBits = (bits >> 13) & 0x00007C00u;
        var mantissaBits = bits & 0x00000FFFu;
        var nonsign = expBits + mantissaBits;
        return (ushort)((sign >> 16) | (shl1W > 0xFF000000u ? 0x7E00u : nonsign));
    }
}
