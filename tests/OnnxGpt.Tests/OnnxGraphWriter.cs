using System.Text;

namespace OnnxGpt.Tests;

/// <summary>
/// Writes tiny ONNX graphs (hand-encoded protobuf) whose inputs and outputs are chosen by a test,
/// for checking how the loader treats graphs it cannot drive. Every output is an Identity of the first input of
/// the same element type and rank.
/// </summary>
internal static class OnnxGraphWriter
{
    public sealed record Tensor(string Name, int ElementType, params object[] Dims);

    public const int Float = 1;
    public const int Int64 = 7;

    public static void Write(string path, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> outputs)
    {
        var graph = new MemoryStream();
        foreach (var output in outputs)
        {
            var node = new MemoryStream();
            var source = inputs.FirstOrDefault(i => i.ElementType == output.ElementType && i.Dims.Length == output.Dims.Length)
                ?? inputs.FirstOrDefault(i => i.ElementType == output.ElementType)
                ?? inputs[0];
            WriteString(node, 1, source.Name);
            WriteString(node, 2, output.Name);
            WriteString(node, 4, "Identity");
            WriteMessage(graph, 1, node);
        }

        WriteString(graph, 2, "g");
        foreach (var input in inputs)
        {
            WriteMessage(graph, 11, ValueInfo(input));
        }

        foreach (var output in outputs)
        {
            WriteMessage(graph, 12, ValueInfo(output));
        }

        var model = new MemoryStream();
        WriteVarintField(model, 1, 8);
        var opset = new MemoryStream();
        WriteString(opset, 1, string.Empty);
        WriteVarintField(opset, 2, 13);
        WriteMessage(model, 8, opset);
        WriteMessage(model, 7, graph);
        File.WriteAllBytes(path, model.ToArray());
    }

    private static MemoryStream ValueInfo(Tensor t)
    {
        var shape = new MemoryStream();
        foreach (var d in t.Dims)
        {
            var dim = new MemoryStream();
            if (d is int value)
            {
                WriteVarintField(dim, 1, (ulong)value);
            }
            else
            {
                WriteString(dim, 2, (string)d);
            }

            WriteMessage(shape, 1, dim);
        }

        var tensorType = new MemoryStream();
        WriteVarintField(tensorType, 1, (ulong)t.ElementType);
        WriteMessage(tensorType, 2, shape);
        var type = new MemoryStream();
        WriteMessage(type, 1, tensorType);
        var info = new MemoryStream();
        WriteString(info, 1, t.Name);
        WriteMessage(info, 2, type);
        return info;
    }

    internal static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        s.WriteByte((byte)value);
    }

    private static void WriteVarintField(Stream s, int field, ulong value)
    {
        WriteVarint(s, (ulong)(field << 3));
        WriteVarint(s, value);
    }

    private static void WriteBytes(Stream s, int field, byte[] bytes)
    {
        WriteVarint(s, (ulong)((field << 3) | 2));
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteString(Stream s, int field, string value) => WriteBytes(s, field, Encoding.UTF8.GetBytes(value));

    private static void WriteMessage(Stream s, int field, MemoryStream message) => WriteBytes(s, field, message.ToArray());
}
