using System.Text;

namespace OnnxGpt.Tests;

/// <summary>
/// Rewrites an exported float32 graph (hand-decoded protobuf, no subgraphs) so that its cache inputs, cache outputs
/// and logits are float16 at the graph's boundary, the way fp16 exports look from outside: a Cast to float32 after
/// each <c>past*</c> input and a Cast to float16 before each <c>present*</c> and <c>logits</c> output. The arithmetic
/// inside stays float32 (ONNX Runtime's CPU provider lacks float16 kernels for most of it), so what a test sees is
/// exactly the loader's and the loop's float16 handling: element sizes, cache buffers, binding and logits conversion.
/// </summary>
internal static class OnnxGraphRewriter
{
    private const int Float = 1;
    private const int Float16 = 10;
    private const string Suffix = "__f32";

    public static void ToFloat16Boundary(string sourcePath, string targetPath)
    {
        var model = Parse(File.ReadAllBytes(sourcePath));
        var graphIndex = model.FindIndex(f => f.Number == 7);
        var graph = Parse(model[graphIndex].Bytes);

        var inputs = graph.Where(f => f.Number == 11).Select(f => Name(f.Bytes)).Where(n => n.StartsWith("past", StringComparison.Ordinal)).ToHashSet();
        var outputs = graph.Where(f => f.Number == 12).Select(f => Name(f.Bytes))
            .Where(n => n.StartsWith("present", StringComparison.Ordinal) || n == "logits").ToHashSet();
        if (inputs.Count == 0 || outputs.Count == 0)
        {
            throw new InvalidOperationException($"{sourcePath} has no past inputs or present/logits outputs to convert.");
        }

        var rewritten = new List<Field>();
        foreach (var name in inputs)
        {
            rewritten.Add(Message(1, Cast(name, name + Suffix, Float)));
        }

        foreach (var field in graph)
        {
            rewritten.Add(field.Number switch
            {
                1 => Message(1, RenameNode(field.Bytes, inputs, outputs)),
                11 when inputs.Contains(Name(field.Bytes)) => Message(11, WithElementType(field.Bytes, Float16)),
                12 when outputs.Contains(Name(field.Bytes)) => Message(12, WithElementType(field.Bytes, Float16)),
                13 when inputs.Contains(Name(field.Bytes)) || outputs.Contains(Name(field.Bytes)) => Message(13, Renamed(field.Bytes, Name(field.Bytes) + Suffix)),
                _ => field,
            });
        }

        // Nodes come first in a GraphProto's field order only by convention; ONNX needs them topologically sorted,
        // so the output casts go after every existing node.
        var lastNode = rewritten.FindLastIndex(f => f.Number == 1);
        rewritten.InsertRange(lastNode + 1, outputs.Select(name => Message(1, Cast(name + Suffix, name, Float16))));

        model[graphIndex] = Message(7, Encode(rewritten));
        File.WriteAllBytes(targetPath, Encode(model));
    }

    private static byte[] RenameNode(byte[] node, HashSet<string> inputs, HashSet<string> outputs)
    {
        var fields = Parse(node);
        for (var i = 0; i < fields.Count; i++)
        {
            if (fields[i].Number is 1 or 2)
            {
                var value = Encoding.UTF8.GetString(fields[i].Bytes);
                if (inputs.Contains(value) || outputs.Contains(value))
                {
                    fields[i] = Text(fields[i].Number, value + Suffix);
                }
            }
        }

        return Encode(fields);
    }

    private static byte[] Cast(string from, string to, int elementType)
    {
        var attribute = Encode([Text(1, "to"), Varint(3, (ulong)elementType), Varint(20, 2)]);
        return Encode([Text(1, from), Text(2, to), Text(3, "Cast_" + to), Text(4, "Cast"), Message(5, attribute)]);
    }

    private static byte[] WithElementType(byte[] valueInfo, int elementType)
    {
        var info = Parse(valueInfo);
        var typeIndex = info.FindIndex(f => f.Number == 2);
        var type = Parse(info[typeIndex].Bytes);
        var tensorIndex = type.FindIndex(f => f.Number == 1);
        var tensor = Parse(type[tensorIndex].Bytes);
        tensor[tensor.FindIndex(f => f.Number == 1)] = Varint(1, (ulong)elementType);
        type[tensorIndex] = Message(1, Encode(tensor));
        info[typeIndex] = Message(2, Encode(type));
        return Encode(info);
    }

    private static byte[] Renamed(byte[] valueInfo, string name)
    {
        var info = Parse(valueInfo);
        info[info.FindIndex(f => f.Number == 1)] = Text(1, name);
        return Encode(info);
    }

    private static string Name(byte[] valueInfo) => Encoding.UTF8.GetString(Parse(valueInfo).First(f => f.Number == 1).Bytes);

    private sealed record Field(int Number, int WireType, ulong Value, byte[] Bytes);

    private static Field Varint(int number, ulong value) => new(number, 0, value, []);

    private static Field Message(int number, byte[] bytes) => new(number, 2, 0, bytes);

    private static Field Text(int number, string value) => Message(number, Encoding.UTF8.GetBytes(value));

    private static List<Field> Parse(byte[] data)
    {
        var fields = new List<Field>();
        var position = 0;
        while (position < data.Length)
        {
            var tag = ReadVarint(data, ref position);
            var number = (int)(tag >> 3);
            var wireType = (int)(tag & 7);
            switch (wireType)
            {
                case 0:
                    fields.Add(new Field(number, 0, ReadVarint(data, ref position), []));
                    break;
                case 1:
                    fields.Add(new Field(number, 1, 0, data[position..(position + 8)]));
                    position += 8;
                    break;
                case 2:
                    var length = (int)ReadVarint(data, ref position);
                    fields.Add(new Field(number, 2, 0, data[position..(position + length)]));
                    position += length;
                    break;
                case 5:
                    fields.Add(new Field(number, 5, 0, data[position..(position + 4)]));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type {wireType} at byte {position}.");
            }
        }

        return fields;
    }

    private static byte[] Encode(List<Field> fields)
    {
        var stream = new MemoryStream();
        foreach (var field in fields)
        {
            OnnxGraphWriter.WriteVarint(stream, ((ulong)(uint)field.Number << 3) | (uint)field.WireType);
            switch (field.WireType)
            {
                case 0:
                    OnnxGraphWriter.WriteVarint(stream, field.Value);
                    break;
                case 2:
                    OnnxGraphWriter.WriteVarint(stream, (ulong)field.Bytes.Length);
                    stream.Write(field.Bytes);
                    break;
                default:
                    stream.Write(field.Bytes);
                    break;
            }
        }

        return stream.ToArray();
    }

    private static ulong ReadVarint(byte[] data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}
