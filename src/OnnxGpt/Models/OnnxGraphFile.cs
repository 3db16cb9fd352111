using System.Text;

namespace OnnxGpt.Models;

/// <summary>
/// Reads what the loader must know about an ONNX graph before ONNX Runtime opens it, straight from the protobuf file
/// and seeking past the weights: the external data files its initializers name, and whether it is an ONNX model at
/// all. Cheap on any size of graph: the weights are never read.
/// </summary>
internal static class OnnxGraphFile
{
    // ModelProto.graph, GraphProto.initializer, TensorProto.external_data, StringStringEntryProto.key/value.
    private const int ModelGraph = 7;
    private const int GraphInitializer = 5;
    private const int TensorExternalData = 13;
    private const int EntryKey = 1;
    private const int EntryValue = 2;

    /// <summary>
    /// The distinct <c>location</c>s (relative to the graph's folder, as written) of the graph's external data, in the
    /// order the initializers name them; empty when every weight is inside the graph.
    /// </summary>
    /// <param name="graphPath">The .onnx file.</param>
    /// <returns>The external data locations.</returns>
    /// <exception cref="InvalidDataException">The file is not an ONNX model (it does not parse as a ModelProto with a graph).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyList<string> ExternalDataLocations(string graphPath)
    {
        using var stream = new FileStream(graphPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096, FileOptions.RandomAccess);
        var reader = new Reader(stream);
        var locations = new List<string>();
        var sawGraph = false;
        var end = stream.Length;
        while (stream.Position < end)
        {
            var (field, wire) = reader.Tag();
            if (field == ModelGraph && wire == 2)
            {
                sawGraph = true;
                var graphEnd = reader.LengthEnd(end);
                ReadGraph(reader, graphEnd, locations);
                stream.Position = graphEnd;
            }
            else
            {
                reader.Skip(wire, end);
            }
        }

        if (!sawGraph)
        {
            throw new InvalidDataException("it holds no graph");
        }

        return locations;
    }

    private static void ReadGraph(Reader reader, long end, List<string> locations)
    {
        while (reader.Position < end)
        {
            var (field, wire) = reader.Tag();
            if (field == GraphInitializer && wire == 2)
            {
                var tensorEnd = reader.LengthEnd(end);
                if (ReadExternalLocation(reader, tensorEnd) is { } location && !locations.Contains(location))
                {
                    locations.Add(location);
                }

                reader.Position = tensorEnd;
            }
            else
            {
                reader.Skip(wire, end);
            }
        }
    }

    private static string? ReadExternalLocation(Reader reader, long end)
    {
        string? location = null;
        while (reader.Position < end)
        {
            var (field, wire) = reader.Tag();
            if (field == TensorExternalData && wire == 2)
            {
                var entryEnd = reader.LengthEnd(end);
                string? key = null, value = null;
                while (reader.Position < entryEnd)
                {
                    var (entryField, entryWire) = reader.Tag();
                    if (entryField is EntryKey or EntryValue && entryWire == 2)
                    {
                        var text = reader.String(entryEnd);
                        if (entryField == EntryKey)
                        {
                            key = text;
                        }
                        else
                        {
                            value = text;
                        }
                    }
                    else
                    {
                        reader.Skip(entryWire, entryEnd);
                    }
                }

                if (key == "location" && !string.IsNullOrEmpty(value))
                {
                    location = value;
                }
            }
            else
            {
                // raw_data and the typed arrays are skipped by seeking: the weights are never read.
                reader.Skip(wire, end);
            }
        }

        return location;
    }

    /// <summary>A bounds-checked protobuf reader over a seekable stream.</summary>
    private sealed class Reader(Stream stream)
    {
        public long Position
        {
            get => stream.Position;
            set => stream.Position = value;
        }

        public (int Field, int Wire) Tag()
        {
            var tag = Varint();
            var field = tag >> 3;
            if (field is 0 or > int.MaxValue)
            {
                throw new InvalidDataException($"a field number of {field} at byte {stream.Position}");
            }

            return ((int)field, (int)(tag & 7));
        }

        /// <summary>Reads a length prefix and returns where the field ends, which must lie within <paramref name="end"/>.</summary>
        public long LengthEnd(long end)
        {
            var length = Varint();
            if (length > (ulong)(end - stream.Position))
            {
                throw new InvalidDataException($"a field of {length} bytes at byte {stream.Position} runs past its end");
            }

            return stream.Position + (long)length;
        }

        public string String(long end)
        {
            var stop = LengthEnd(end);
            var bytes = new byte[stop - stream.Position];
            stream.ReadExactly(bytes);
            return Encoding.UTF8.GetString(bytes);
        }

        public void Skip(int wire, long end)
        {
            long next = wire switch
            {
                0 => SkipVarint(),
                1 => stream.Position + 8,
                2 => LengthEnd(end),
                5 => stream.Position + 4,
                _ => throw new InvalidDataException($"protobuf wire type {wire} at byte {stream.Position}"),
            };
            if (next > end)
            {
                throw new InvalidDataException($"a field at byte {stream.Position} runs past its end");
            }

            stream.Position = next;
        }

        private long SkipVarint()
        {
            Varint();
            return stream.Position;
        }

        private ulong Varint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = stream.ReadByte();
                if (b < 0)
                {
                    throw new InvalidDataException("the file ends inside a field");
                }

                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new InvalidDataException($"a malformed varint at byte {stream.Position}");
        }
    }
}
