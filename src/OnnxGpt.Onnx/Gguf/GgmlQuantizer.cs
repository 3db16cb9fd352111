namespace OnnxGpt.Onnx.Gguf;

/// <summary>
/// llama.cpp's reference row quantizers (<c>quantize_row_q8_0_ref</c>, <c>quantize_row_q4_0_ref</c> in
/// ggml-quants.c), value for value: blocks of 32 along the row, an f16 scale (round-to-nearest-even) and the codes.
/// </summary>
public static class GgmlQuantizer
{
    /// <summary>Weights per Q4_0 and Q8_0 block.</summary>
    public const int BlockSize = 32;

    /// <summary>Bytes of one row of <paramref name="columns"/> values in <paramref name="type"/>.</summary>
    /// <param name="type">The tensor type.</param>
    /// <param name="columns">Values in the row (ggml's ne[0]); a multiple of 32 for the quantized types.</param>
    /// <returns>The row's size in bytes.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The row does not split into whole blocks, or the type is unknown.</exception>
    public static long RowBytes(GgmlType type, long columns)
    {
        if (type != GgmlType.F32 && columns % BlockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), columns, $"A {type} row must hold a multiple of {BlockSize} values.");
        }

        return type switch
        {
            GgmlType.F32 => columns * 4,
            GgmlType.Q8_0 => columns / BlockSize * 34,
            GgmlType.Q4_0 => columns / BlockSize * 18,
            _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Type must be F32, Q8_0 or Q4_0."),
        };
    }

    /// <summary>Quantizes <paramref name="values"/> (whole blocks) as Q8_0: d = max|x| / 127, q = roundf(x / d).</summary>
    /// <param name="values">The values, a multiple of 32.</param>
    /// <param name="output">Receives 34 bytes per block.</param>
    /// <exception cref="ArgumentException">The sizes disagree.</exception>
    public static void QuantizeQ8_0(ReadOnlySpan<float> values, Span<byte> output)
    {
        CheckSizes(values.Length, output.Length, 34);
        for (var b = 0; b < values.Length / BlockSize; b++)
        {
            var x = values.Slice(b * BlockSize, BlockSize);
            var y = output.Slice(b * 34, 34);
            var amax = 0f;
            foreach (var v in x)
            {
                amax = MathF.Max(amax, MathF.Abs(v));
            }

            var d = amax / ((1 << 7) - 1);
            var id = d != 0f ? 1.0f / d : 0.0f;
            WriteHalf(y, d);
            for (var j = 0; j < BlockSize; j++)
            {
                // roundf: half away from zero.
                y[2 + j] = unchecked((byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero));
            }
        }
    }

    /// <summary>
    /// Quantizes <paramref name="values"/> (whole blocks) as Q4_0: d = (the value of largest magnitude) / -8,
    /// q = min(15, (int8)(x / d + 8.5)); the block's first 16 values in the low nibbles, the last 16 in the high ones.
    /// </summary>
    /// <param name="values">The values, a multiple of 32.</param>
    /// <param name="output">Receives 18 bytes per block.</param>
    /// <exception cref="ArgumentException">The sizes disagree.</exception>
    public static void QuantizeQ4_0(ReadOnlySpan<float> values, Span<byte> output)
    {
        CheckSizes(values.Length, output.Length, 18);
        const int half = BlockSize / 2;
        for (var b = 0; b < values.Length / BlockSize; b++)
        {
            var x = values.Slice(b * BlockSize, BlockSize);
            var y = output.Slice(b * 18, 18);
            var amax = 0f;
            var max = 0f;
            foreach (var v in x)
            {
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }

            var d = max / -8;
            var id = d != 0f ? 1.0f / d : 0.0f;
            WriteHalf(y, d);
            for (var j = 0; j < half; j++)
            {
                // (int8_t) truncates toward zero; x * id + 8.5 is at least 0.5 here.
                var xi0 = Math.Min(15, (int)(sbyte)((x[j] * id) + 8.5f));
                var xi1 = Math.Min(15, (int)(sbyte)((x[half + j] * id) + 8.5f));
                y[2 + j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    /// <summary>Writes <paramref name="values"/> in <paramref name="type"/> (F32 as little-endian floats).</summary>
    /// <param name="type">The tensor type.</param>
    /// <param name="values">One or more whole rows.</param>
    /// <param name="output">Receives <see cref="RowBytes"/> per row.</param>
    public static void Encode(GgmlType type, ReadOnlySpan<float> values, Span<byte> output)
    {
        switch (type)
        {
            case GgmlType.F32:
                CheckSizes(values.Length, output.Length, 4 * BlockSize);
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).CopyTo(output);
                break;
            case GgmlType.Q8_0:
                QuantizeQ8_0(values, output);
                break;
            case GgmlType.Q4_0:
                QuantizeQ4_0(values, output);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "Type must be F32, Q8_0 or Q4_0.");
        }
    }

    private static void WriteHalf(Span<byte> destination, float value) =>
        System.Buffers.Binary.BinaryPrimitives.WriteHalfLittleEndian(destination, (Half)value);

    private static void CheckSizes(int values, int bytes, int blockBytes)
    {
        if (blockBytes == 4 * BlockSize)
        {
            if (bytes != values * 4)
            {
                throw new ArgumentException($"{values} F32 values need {values * 4} bytes, not {bytes}.", nameof(bytes));
            }

            return;
        }

        if (values % BlockSize != 0)
        {
            throw new ArgumentException($"{values} values are not whole blocks of {BlockSize}.", nameof(values));
        }

        if (bytes != values / BlockSize * blockBytes)
        {
            throw new ArgumentException($"{values / BlockSize} blocks need {values / BlockSize * blockBytes} bytes, not {bytes}.", nameof(bytes));
        }
    }
}
