namespace OnnxGpt.Onnx.Quantization;

/// <summary>
/// Block-wise round-to-nearest quantization of a MatMul weight B [K, N] into com.microsoft <c>MatMulNBits</c>'s layout,
/// exactly as onnxruntime's <c>matmul_nbits_quantizer.py</c> (through MLAS <c>BlockwiseQuantizer::quantizeAndTranspose</c>)
/// does: K is zero-padded to whole blocks; each column's blocks of <c>blockSize</c> values get a scale (and a zero point
/// when asymmetric); values become <c>clamp(roundf(v / scale + zp), 0, 2^bits - 1)</c>, packed low nibble first.
/// </summary>
public static class BlockQuantizer
{
    /// <summary>Quantizes <paramref name="weight"/>.</summary>
    /// <param name="weight">The weight's values, row-major: B [K, N], or with <paramref name="transposed"/> its transpose [N, K] (a tied lm_head's embedding).</param>
    /// <param name="k">B's rows (the MatMul's reduction dimension).</param>
    /// <param name="n">B's columns (the MatMul's output features).</param>
    /// <param name="bits">4 or 8.</param>
    /// <param name="blockSize">Values per block along K: a power of two, 16 or more.</param>
    /// <param name="symmetric">True: scale from the largest magnitude, zero point 2^(bits-1), no zero-point tensor; false: min/max with zero points.</param>
    /// <param name="transposed">Whether <paramref name="weight"/> holds Bᵀ [N, K].</param>
    /// <returns>The packed weights [N, K/block, block*bits/8], scales [N * K/block] and, when asymmetric, zero points.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size or setting is out of range; the message names it.</exception>
    public static QuantizedWeight Quantize(ReadOnlyMemory<float> weight, int k, int n, int bits, int blockSize, bool symmetric, bool transposed = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        Validate(bits, blockSize);
        if (weight.Length != (long)k * n)
        {
            throw new ArgumentOutOfRangeException(nameof(weight), weight.Length, $"The weight holds {weight.Length} values, not K * N = {(long)k * n}.");
        }

        var blocks = (k + blockSize - 1) / blockSize;
        var blobSize = blockSize * bits / 8;
        var packed = new byte[(long)n * blocks * blobSize];
        var scales = new float[(long)n * blocks];
        // 4-bit zero points pack two blocks per byte; an odd last block keeps the midpoint in its high nibble.
        var zeroPointsPerColumn = bits == 4 ? (blocks + 1) / 2 : blocks;
        var zeroPoints = symmetric ? null : new byte[(long)n * zeroPointsPerColumn];
        // Columns are independent: quantize them in parallel, each worker with its own column and code buffers.
        Parallel.For(0, n, () => (Column: new float[blocks * blockSize], Codes: new byte[blockSize]), (j, _, buffers) =>
        {
            QuantizeColumn(weight.Span, j, k, n, bits, blockSize, symmetric, transposed, buffers.Column, buffers.Codes, packed, scales, zeroPoints);
            return buffers;
        }, _ => { });

        return new QuantizedWeight(packed, scales, zeroPoints, k, n, bits, blockSize);
    }

    private static void QuantizeColumn(ReadOnlySpan<float> weight, int j, int k, int n, int bits, int blockSize, bool symmetric, bool transposed, float[] column, byte[] codes, byte[] packed, float[] scales, byte[]? zeroPoints)
    {
        var blocks = (k + blockSize - 1) / blockSize;
        var blobSize = blockSize * bits / 8;
        var zeroPointsPerColumn = bits == 4 ? (blocks + 1) / 2 : blocks;
        var levels = (1 << bits) - 1;
        var mid = 1 << (bits - 1);
        {
            // Column j of B, zero-padded to whole blocks (the padding takes part in each block's range, as in the reference).
            Array.Clear(column);
            for (var i = 0; i < k; i++)
            {
                column[i] = transposed ? weight[(j * k) + i] : weight[(i * n) + j];
            }

            for (var b = 0; b < blocks; b++)
            {
                var block = column.AsSpan(b * blockSize, blockSize);
                var min = float.MaxValue;
                var max = -float.MaxValue;
                foreach (var v in block)
                {
                    if (v < min)
                    {
                        min = v;
                    }

                    if (v > max)
                    {
                        max = v;
                    }
                }

                float scale;
                int zeroPoint;
                if (symmetric)
                {
                    // The larger half of the range maps to [-2^(bits-1), 0]: the negative side holds one more level.
                    var extreme = MathF.Abs(max) > MathF.Abs(min) ? max : min;
                    scale = -extreme / mid;
                    zeroPoint = mid;
                }
                else
                {
                    min = MathF.Min(min, 0f);
                    max = MathF.Max(max, 0f);
                    scale = (max - min) / levels;
                    var zeroPointFp = scale != 0f ? 0f - (min / scale) : min;
                    zeroPoint = zeroPointFp < 0f ? 0 : zeroPointFp > levels ? levels : (int)MathF.Round(zeroPointFp, MidpointRounding.AwayFromZero);
                }

                scales[((long)j * blocks) + b] = scale;
                var reciprocal = scale != 0f ? 1.0f / scale : 0f;
                for (var l = 0; l < blockSize; l++)
                {
                    var q = MathF.Round((block[l] * reciprocal) + zeroPoint, MidpointRounding.AwayFromZero);
                    codes[l] = (byte)Math.Clamp(q, 0f, levels);
                }

                var blob = packed.AsSpan((int)((((long)j * blocks) + b) * blobSize), blobSize);
                if (bits == 8)
                {
                    codes.CopyTo(blob);
                }
                else
                {
                    for (var l = 0; l < blobSize; l++)
                    {
                        blob[l] = (byte)((codes[2 * l] & 0xF) | (codes[(2 * l) + 1] << 4));
                    }
                }

                if (zeroPoints is not null)
                {
                    if (bits == 8)
                    {
                        zeroPoints[((long)j * blocks) + b] = (byte)zeroPoint;
                    }
                    else
                    {
                        var index = ((long)j * zeroPointsPerColumn) + (b / 2);
                        zeroPoints[index] = b % 2 == 0
                            ? (byte)((zeroPoint & 0xF) | (mid << 4))
                            : (byte)((zeroPoints[index] & 0xF) | (zeroPoint << 4));
                    }
                }
            }
        }
    }

    /// <summary>Throws when <paramref name="bits"/> or <paramref name="blockSize"/> is not one <c>MatMulNBits</c> runs.</summary>
    /// <param name="bits">4 or 8.</param>
    /// <param name="blockSize">A power of two, 16 or more.</param>
    /// <exception cref="ArgumentOutOfRangeException">Either is out of range; the message names it.</exception>
    public static void Validate(int bits, int blockSize)
    {
        if (bits is not (4 or 8))
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "Bits must be 4 or 8.");
        }

        if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "BlockSize must be a power of two, 16 or more (MatMulNBits' block_size).");
        }
    }
}
