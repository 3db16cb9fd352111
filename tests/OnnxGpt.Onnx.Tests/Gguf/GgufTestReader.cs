using System.Text;

namespace OnnxGpt.Onnx.Tests.Gguf;

/// <summary>A minimal GGUF reader written from the format's description (gguf.md), to check what the writer wrote.</summary>
internal sealed class GgufTestReader
{
    public Dictionary<string, object> Metadata { get; } = new(StringComparer.Ordinal);

    public List<(string Name, ulong[] Dims, uint Type, ulong Offset)> Tensors { get; } = [];

    public long DataStart { get; private set; }

    public static GgufTestReader Read(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new BinaryReader(stream);
        var result = new GgufTestReader();
        Assert.That(reader.ReadUInt32(), Is.EqualTo(0x46554747u), "magic GGUF");
        Assert.That(reader.ReadUInt32(), Is.EqualTo(3u), "version");
        var tensors = reader.ReadUInt64();
        var keys = reader.ReadUInt64();
        for (ulong k = 0; k < keys; k++)
        {
            var key = ReadString(reader);
            result.Metadata[key] = ReadValue(reader, reader.ReadUInt32());
        }

        for (ulong t = 0; t < tensors; t++)
        {
            var name = ReadString(reader);
            var dims = new ulong[reader.ReadUInt32()];
            for (var d = 0; d < dims.Length; d++)
            {
                dims[d] = reader.ReadUInt64();
            }

            result.Tensors.Add((name, dims, reader.ReadUInt32(), reader.ReadUInt64()));
        }

        result.DataStart = (stream.Position + 31) / 32 * 32;
        return result;
    }

    public byte[] ReadData(string path, string tensor, long offsetInTensor, int count)
    {
        var info = Tensors.Single(t => t.Name == tensor);
        using var stream = File.OpenRead(path);
        stream.Position = DataStart + (long)info.Offset + offsetInTensor;
        var bytes = new byte[count];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static string ReadString(BinaryReader reader) => Encoding.UTF8.GetString(reader.ReadBytes(checked((int)reader.ReadUInt64())));

    private static object ReadValue(BinaryReader reader, uint type) => type switch
    {
        4 => reader.ReadUInt32(),
        5 => reader.ReadInt32(),
        6 => reader.ReadSingle(),
        8 => ReadString(reader),
        9 => ReadArray(reader),
        _ => throw new InvalidDataException($"value type {type} not expected"),
    };

    private static object[] ReadArray(BinaryReader reader)
    {
        var type = reader.ReadUInt32();
        var items = new object[checked((int)reader.ReadUInt64())];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = ReadValue(reader, type);
        }

        return items;
    }
}
