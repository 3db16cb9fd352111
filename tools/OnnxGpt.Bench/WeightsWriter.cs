using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace OnnxGpt.Bench;

/// <summary>
/// Writes a benchmark graph's external weights (<c>model.onnx.data</c>) from its <c>weights.manifest.json</c>.
/// The benchmark graphs ship without their data: only the manifest, which gives each initializer's offset, length,
/// shape, element type and fill. <c>normal</c> fills are drawn from a seeded generator, so every machine writes the
/// same bytes and the same greedy tokens come out of the same graph.
/// </summary>
public static class WeightsWriter
{
    /// <summary>Seed of the <c>normal</c> fills; changing it changes every benchmark graph's weights.</summary>
    internal const ulong Seed = 0x0A11_6E7B_E7C8_2025UL;

    /// <summary>Elements drawn from one seed: the unit of parallel generation (and of determinism).</summary>
    internal const int BlockElements = 1 << 16;

    private const int ChunkBytes = 16 << 20;

    /// <summary>
    /// Makes sure <paramref name="modelDirectory"/> holds its weights: when the data file the manifest names
    /// (<c>model.onnx.data</c>) is missing or its length differs from the manifest's <c>data_length</c>, writes it.
    /// The file is written under a temporary name and renamed when complete, so an interrupted run never leaves a
    /// file that looks complete.
    /// </summary>
    /// <param name="modelDirectory">The folder holding <c>model.onnx</c> and <c>weights.manifest.json</c>.</param>
    /// <param name="progress">Receives the fraction written, from 0 to 1, after each chunk; null reports nothing.</param>
    /// <param name="cancellationToken">Stops writing; the partial file is deleted.</param>
    /// <returns>True when the file was written, false when it was already complete.</returns>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no <c>weights.manifest.json</c>.</exception>
    /// <exception cref="InvalidDataException">The manifest is not valid JSON, or describes tensors that do not fit.</exception>
    /// <exception cref="IOException">The data file cannot be written (disk full, read-only folder).</exception>
    public static async Task<bool> EnsureAsync(string modelDirectory, IProgress<double>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelDirectory);
        var manifest = WeightsManifest.Read(modelDirectory);
        var target = Path.Combine(modelDirectory, manifest.DataFile);
        if (IsComplete(target, manifest.DataLength))
        {
            progress?.Report(1);
            return false;
        }

        var temp = target + ".partial";
        try
        {
            await WriteAsync(manifest, temp, progress, cancellationToken).ConfigureAwait(false);
            File.Move(temp, target, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }

        return true;
    }

    /// <summary>Whether the data file the manifest in <paramref name="modelDirectory"/> names exists with the expected length.</summary>
    /// <param name="modelDirectory">The folder holding <c>weights.manifest.json</c>.</param>
    /// <returns>True when no writing is needed.</returns>
    /// <exception cref="FileNotFoundException">The folder has no <c>weights.manifest.json</c>.</exception>
    /// <exception cref="InvalidDataException">The manifest is invalid.</exception>
    public static bool IsComplete(string modelDirectory)
    {
        var manifest = WeightsManifest.Read(modelDirectory);
        return IsComplete(Path.Combine(modelDirectory, manifest.DataFile), manifest.DataLength);
    }

    private static bool IsComplete(string path, long length)
    {
        var info = new FileInfo(path);
        return info.Exists && info.Length == length;
    }

    private static async Task WriteAsync(WeightsManifest manifest, string path, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            BufferSize = 0,
            Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
            PreallocationSize = manifest.DataLength,
        });
        await using (stream.ConfigureAwait(false))
        {
            // Two buffers: one is written while the next is generated.
            var buffers = new[] { new byte[ChunkBytes], new byte[ChunkBytes] };
            var current = 0;
            Task pending = Task.CompletedTask;
            long start = 0;
            while (start < manifest.DataLength)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var end = ChunkEnd(manifest, start);
                var buffer = buffers[current];
                FillChunk(manifest, start, buffer.AsSpan(0, (int)(end - start)));
                await pending.ConfigureAwait(false);
                pending = stream.WriteAsync(buffer.AsMemory(0, (int)(end - start)), cancellationToken).AsTask();
                current ^= 1;
                start = end;
                progress?.Report((double)start / manifest.DataLength);
            }

            await pending.ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The end of the chunk starting at <paramref name="start"/>, moved back so that no element straddles two chunks.</summary>
    private static long ChunkEnd(WeightsManifest manifest, long start)
    {
        var end = Math.Min(start + ChunkBytes, manifest.DataLength);
        foreach (var t in manifest.Tensors)
        {
            if (t.Offset < end && end < t.Offset + t.Length)
            {
                var aligned = t.Offset + ((end - t.Offset) / t.ElementSize * t.ElementSize);
                return aligned > start ? aligned : end;
            }
        }

        return end;
    }

    /// <summary>Fills the bytes of file range [start, start + chunk.Length): zeros between tensors, each tensor's fill inside.</summary>
    internal static void FillChunk(WeightsManifest manifest, long start, Span<byte> chunk)
    {
        chunk.Clear();
        var end = start + chunk.Length;
        var segments = new List<(ManifestTensor Tensor, long FirstElement, int Count, int ChunkOffset)>();
        foreach (var t in manifest.Tensors)
        {
            var from = Math.Max(start, t.Offset);
            var to = Math.Min(end, t.Offset + t.Length);
            if (from >= to || t.Fill == "zeros")
            {
                continue;
            }

            var es = t.ElementSize;
            var first = (from - t.Offset) / es;
            var last = (to - t.Offset) / es;

            // Split at seed-block boundaries so each segment draws from one seed and segments run in parallel.
            for (var e = first; e < last;)
            {
                var blockEnd = Math.Min(last, ((e / BlockElements) + 1) * BlockElements);
                segments.Add((t, e, (int)(blockEnd - e), (int)(t.Offset + (e * es) - start)));
                e = blockEnd;
            }
        }

        if (segments.Count == 0)
        {
            return;
        }

        unsafe
        {
            fixed (byte* basePtr = chunk)
            {
                var ptr = (nint)basePtr;
                var length = chunk.Length;
                Parallel.For(0, segments.Count, i =>
                {
                    var (tensor, firstElement, count, offset) = segments[i];
                    var bytes = new Span<byte>((byte*)ptr, length).Slice(offset, count * tensor.ElementSize);
                    FillSegment(tensor, firstElement, bytes);
                });
            }
        }
    }

    private static void FillSegment(ManifestTensor tensor, long firstElement, Span<byte> bytes)
    {
        switch (tensor.Fill)
        {
            case "normal":
                FillNormal(tensor, firstElement, bytes);
                break;
            case "ones":
                for (var i = 0; i < bytes.Length / tensor.ElementSize; i++)
                {
                    WriteElement(tensor.Dtype, bytes, i, 1.0);
                }

                break;
            case "values":
                for (var i = 0; i < bytes.Length / tensor.ElementSize; i++)
                {
                    WriteElement(tensor.Dtype, bytes, i, tensor.Values![firstElement + i]);
                }

                break;
            default:
                break;
        }
    }

    private static void WriteElement(string dtype, Span<byte> bytes, int index, double value)
    {
        switch (dtype)
        {
            case "float32":
                BinaryPrimitives.WriteSingleLittleEndian(bytes[(index * 4)..], (float)value);
                break;
            case "float16":
                BinaryPrimitives.WriteHalfLittleEndian(bytes[(index * 2)..], (Half)value);
                break;
            case "int32":
                BinaryPrimitives.WriteInt32LittleEndian(bytes[(index * 4)..], checked((int)value));
                break;
            case "int64":
                BinaryPrimitives.WriteInt64LittleEndian(bytes[(index * 8)..], checked((long)value));
                break;
            default:
                throw new InvalidDataException($"Unsupported dtype '{dtype}'.");
        }
    }

    /// <summary>
    /// Writes N(0, std) samples for elements [firstElement, firstElement + count) of a tensor, all within one seed block.
    /// Each block's generator is seeded from the tensor's name and the block's index, so the bytes do not depend on
    /// chunking, thread count or the order tensors are listed in.
    /// </summary>
    private static void FillNormal(ManifestTensor tensor, long firstElement, Span<byte> bytes)
    {
        var count = bytes.Length / tensor.ElementSize;
        var block = firstElement / BlockElements;
        var skip = (int)(firstElement - (block * BlockElements));
        var samples = new float[skip + count];
        NormalBlock(BlockSeed(tensor.Name, block), (float)tensor.Std!.Value, samples);
        var source = samples.AsSpan(skip, count);
        if (tensor.Dtype == "float32")
        {
            if (BitConverter.IsLittleEndian)
            {
                MemoryMarshal.AsBytes(source).CopyTo(bytes);
            }
            else
            {
                for (var i = 0; i < count; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(bytes[(i * 4)..], source[i]);
                }
            }
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                BinaryPrimitives.WriteHalfLittleEndian(bytes[(i * 2)..], (Half)source[i]);
            }
        }
    }

    /// <summary>Fills <paramref name="destination"/> with N(0, std) samples: xorshift64* uniforms through Box-Muller.</summary>
    internal static void NormalBlock(ulong seed, float std, Span<float> destination)
    {
        var state = SplitMix64(seed);
        if (state == 0)
        {
            state = 0x9E37_79B9_7F4A_7C15UL;
        }

        const float TwoPi = 2 * MathF.PI;
        const float Scale = 1f / (1 << 24);
        for (var i = 0; i < destination.Length; i += 2)
        {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            var x = state * 0x2545_F491_4F6C_DD1DUL;

            // u1 in (0, 1] so the logarithm is finite; u2 in [0, 1).
            var u1 = ((x >> 40) + 1) * Scale;
            var u2 = (x & 0xFF_FFFF) * Scale;
            var r = std * MathF.Sqrt(-2f * MathF.Log(u1));
            var (sin, cos) = MathF.SinCos(TwoPi * u2);
            destination[i] = r * cos;
            if (i + 1 < destination.Length)
            {
                destination[i + 1] = r * sin;
            }
        }
    }

    internal static ulong BlockSeed(string tensorName, long block)
    {
        // FNV-1a over the name's UTF-16 code units: stable across runs and platforms (string.GetHashCode is not).
        var hash = 0xCBF2_9CE4_8422_2325UL;
        foreach (var c in tensorName)
        {
            hash = (hash ^ c) * 0x0000_0100_0000_01B3UL;
        }

        return Seed ^ hash ^ ((ulong)block * 0x9E37_79B9_7F4A_7C15UL);
    }

    private static ulong SplitMix64(ulong x)
    {
        x += 0x9E37_79B9_7F4A_7C15UL;
        x = (x ^ (x >> 30)) * 0xBF58_476D_1CE4_E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D0_49BB_1331_11EBUL;
        return x ^ (x >> 31);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
