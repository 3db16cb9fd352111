namespace OnnxGpt.GenAI;

/// <summary>
/// Reads the names and element types of an ONNX graph's inputs straight from the protobuf file, seeking past the
/// weights, so that <see cref="Models.GptModelInfo"/> can be described without creating an ONNX Runtime session
/// (onnxruntime-genai already holds one). Any parse problem gives an empty result: the information is descriptive.
/// </summary>
internal static class OnnxGraphInputs
{
    /// <summary>ONNX's TensorProto.DataType values for the types a cache is stored in.</summary>
    public static string? ElementTypeName(int elementType) => elementType switch
    {
        1 => "float32",
        10 => "float16",
        16 => "bfloat16",
        _ => null,
    };

    /// <summary>The graph's inputs: name and ONNX element type (0 when not a tensor).</summary>
    public static IReadOnlyDictionary<string, int> Read(string graphPath)
    {
        var inputs = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            using var stream = new FileStream(graphPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096, FileOptions.RandomAccess);
            // ModelProto.graph = 7
            if (!SeekToField(stream, stream.Length, 7, out var graphEnd))
            {
                return inputs;
            }

            // GraphProto.input = 11 (repeated ValueInfoProto); initializers (5) are skipped by seeking.
            while (stream.Position < graphEnd)
            {
                var (field, wire) = ReadTag(stream);
                if (field == 11 && wire == 2)
                {
                    var length = checked((int)ReadVarint(stream));
                    var bytes = new byte[length];
                    stream.ReadExactly(bytes);
                    var (name, type) = ParseValueInfo(bytes);
                    if (name is not null)
                    {
                        inputs[name] = type;
                    }
                }
                else
                {
                    Skip(stream, wire);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException or OverflowException or EndOfStreamException)
        {
            return inputs;
        }

        return inputs;
    }

    private static bool SeekToField(Stream stream, long end, int wanted, out long fieldEnd)
    {
        while (stream.Position < end)
        {
            var (field, wire) = ReadTag(stream);
            if (field == wanted && wire == 2)
            {
                var length = (long)ReadVarint(stream);
                fieldEnd = stream.Position + length;
                return true;
            }

            Skip(stream, wire);
        }

        fieldEnd = 0;
        return false;
    }

    private static (string? Name, int Type) ParseValueInfo(byte[] bytes)
    {
        using var stream = new MemoryStream(bytes, writable: false);
        string? name = null;
        var type = 0;
        while (stream.Position < stream.Length)
        {
            var (field, wire) = ReadTag(stream);
            if (field == 1 && wire == 2)
            {
                var length = checked((int)ReadVarint(stream));
                name = System.Text.Encoding.UTF8.GetString(bytes, (int)stream.Position, length);
                stream.Position += length;
            }
            else if (field == 2 && wire == 2)
            {
                // TypeProto.tensor_type = 1 -> TypeProto.Tensor.elem_type = 1
                var typeEnd = stream.Position + (long)ReadVarint(stream);
                if (SeekToField(stream, typeEnd, 1, out var tensorEnd))
                {
                    while (stream.Position < tensorEnd)
                    {
                        var (inner, innerWire) = ReadTag(stream);
                        if (inner == 1 && innerWire == 0)
                        {
                            type = (int)ReadVarint(stream);
                        }
                        else
                        {
                            Skip(stream, innerWire);
                        }
                    }
                }

                stream.Position = typeEnd;
            }
            else
            {
                Skip(stream, wire);
            }
        }

        return (name, type);
    }

    private static (int Field, int Wire) ReadTag(Stream stream)
    {
        var tag = ReadVarint(stream);
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    private static ulong ReadVarint(Stream stream)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = stream.ReadByte();
            if (b < 0)
            {
                throw new EndOfStreamException();
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("Malformed varint.");
    }

    private static void Skip(Stream stream, int wire)
    {
        switch (wire)
        {
            case 0:
                ReadVarint(stream);
                break;
            case 1:
                stream.Seek(8, SeekOrigin.Current);
                break;
            case 2:
                var length = (long)ReadVarint(stream);
                stream.Seek(length, SeekOrigin.Current);
                break;
            case 5:
                stream.Seek(4, SeekOrigin.Current);
                break;
            default:
                throw new InvalidDataException($"Unsupported protobuf wire type {wire}.");
        }
    }
}
