using System.Buffers.Binary;
using System.Text;

namespace OnnxGpt.Onnx.Gguf;

/// <summary>
/// Writes a GGUF file (version 3, little-endian, as ggml's <c>gguf.cpp</c> reads it): the header, the metadata
/// key-value pairs in the order added, the tensor infos (name, dimensions in ggml order, ne[0] first, type, offset),
/// padding to <see cref="Alignment"/>, then each tensor's data, each padded to the alignment. Tensor data is produced
/// one tensor at a time by the callbacks given to <see cref="AddTensor"/>, so memory stays near the largest tensor.
/// </summary>
public sealed class GgufWriter
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>The GGUF version written.</summary>
    public const uint Version = 3;

    /// <summary>Alignment of the data section and of each tensor (GGUF's default, <c>general.alignment</c> unset).</summary>
    public const int Alignment = 32;

    private readonly List<(string Key, GgufValueType Type, byte[] Value)> _metadata = [];
    private readonly List<Tensor> _tensors = [];

    private sealed record Tensor(string Name, long[] Dimensions, GgmlType Type, long Bytes, Func<byte[]> Data);

    /// <summary>The metadata keys added so far, in order.</summary>
    public IReadOnlyList<string> Keys => [.. _metadata.Select(m => m.Key)];

    /// <summary>Adds a string value.</summary>
    /// <param name="key">The key, such as <c>general.architecture</c>.</param>
    /// <param name="value">The value.</param>
    public void AddString(string key, string value)
    {
        using var buffer = new MemoryStream();
        WriteString(buffer, value);
        Add(key, GgufValueType.String, buffer.ToArray());
    }

    /// <summary>Adds a uint32 value.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void AddUInt32(string key, uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        Add(key, GgufValueType.UInt32, bytes);
    }

    /// <summary>Adds a float32 value.</summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value.</param>
    public void AddFloat32(string key, float value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(bytes, value);
        Add(key, GgufValueType.Float32, bytes);
    }

    /// <summary>Adds an array of strings.</summary>
    /// <param name="key">The key.</param>
    /// <param name="values">The strings.</param>
    public void AddStringArray(string key, IReadOnlyList<string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var buffer = new MemoryStream();
        WriteUInt32(buffer, (uint)GgufValueType.String);
        WriteUInt64(buffer, (ulong)values.Count);
        foreach (var value in values)
        {
            WriteString(buffer, value);
        }

        Add(key, GgufValueType.Array, buffer.ToArray());
    }

    /// <summary>Adds an array of int32 values.</summary>
    /// <param name="key">The key.</param>
    /// <param name="values">The values.</param>
    public void AddInt32Array(string key, IReadOnlyList<int> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var buffer = new MemoryStream();
        WriteUInt32(buffer, (uint)GgufValueType.Int32);
        WriteUInt64(buffer, (ulong)values.Count);
        Span<byte> item = stackalloc byte[4];
        foreach (var value in values)
        {
            BinaryPrimitives.WriteInt32LittleEndian(item, value);
            buffer.Write(item);
        }

        Add(key, GgufValueType.Array, buffer.ToArray());
    }

    /// <summary>Adds a tensor.</summary>
    /// <param name="name">The tensor's name, such as <c>blk.0.attn_qkv.weight</c>.</param>
    /// <param name="dimensions">Its dimensions in ggml order: ne[0] (the contiguous one, a row's length) first.</param>
    /// <param name="type">Its element type.</param>
    /// <param name="data">Produces its bytes when the file is written: <see cref="GgmlQuantizer.RowBytes"/> times the other dimensions.</param>
    /// <exception cref="ArgumentException">The name repeats or a dimension is not positive.</exception>
    public void AddTensor(string name, long[] dimensions, GgmlType type, Func<byte[]> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(dimensions);
        ArgumentNullException.ThrowIfNull(data);
        if (dimensions.Length is < 1 or > 4 || dimensions.Any(d => d < 1))
        {
            throw new ArgumentException($"Tensor '{name}' needs 1 to 4 positive dimensions, not [{string.Join(", ", dimensions)}].", nameof(dimensions));
        }

        if (_tensors.Any(t => t.Name == name))
        {
            throw new ArgumentException($"Tensor '{name}' was already added.", nameof(name));
        }

        var bytes = GgmlQuantizer.RowBytes(type, dimensions[0]) * dimensions.Skip(1).Aggregate(1L, (a, d) => a * d);
        _tensors.Add(new Tensor(name, dimensions, type, bytes, data));
    }

    /// <summary>Writes the file.</summary>
    /// <param name="output">Where to write (written from its current position, which counts as offset 0).</param>
    /// <param name="cancellationToken">Stops between tensors.</param>
    /// <exception cref="InvalidDataException">A tensor's callback returned the wrong number of bytes.</exception>
    public void Write(Stream output, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        using var header = new MemoryStream();
        WriteUInt32(header, Magic);
        WriteUInt32(header, Version);
        WriteUInt64(header, (ulong)_tensors.Count);
        WriteUInt64(header, (ulong)_metadata.Count);
        foreach (var (key, type, value) in _metadata)
        {
            WriteString(header, key);
            WriteUInt32(header, (uint)type);
            header.Write(value);
        }

        long offset = 0;
        foreach (var tensor in _tensors)
        {
            WriteString(header, tensor.Name);
            WriteUInt32(header, (uint)tensor.Dimensions.Length);
            foreach (var d in tensor.Dimensions)
            {
                WriteUInt64(header, (ulong)d);
            }

            WriteUInt32(header, (uint)tensor.Type);
            WriteUInt64(header, (ulong)offset);
            offset = Align(offset + tensor.Bytes);
        }

        header.Write(new byte[Align(header.Length) - header.Length]);
        header.Position = 0;
        header.CopyTo(output);
        foreach (var tensor in _tensors)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var data = tensor.Data();
            if (data.LongLength != tensor.Bytes)
            {
                throw new InvalidDataException($"Tensor '{tensor.Name}' produced {data.LongLength} bytes; its dimensions and type need {tensor.Bytes}.");
            }

            output.Write(data);
            output.Write(new byte[Align(tensor.Bytes) - tensor.Bytes]);
        }
    }

    private static long Align(long value) => (value + Alignment - 1) / Alignment * Alignment;

    private void Add(string key, GgufValueType type, byte[] value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (_metadata.Any(m => m.Key == key))
        {
            throw new ArgumentException($"Metadata key '{key}' was already added.", nameof(key));
        }

        _metadata.Add((key, type, value));
    }

    private static void WriteString(Stream stream, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        WriteUInt64(stream, (ulong)bytes.Length);
        stream.Write(bytes);
    }

    private static void WriteUInt32(Stream stream, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        stream.Write(bytes);
    }

    private static void WriteUInt64(Stream stream, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        stream.Write(bytes);
    }
}
