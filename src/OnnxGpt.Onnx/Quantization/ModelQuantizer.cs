using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Google.Protobuf;
using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Quantization;

/// <summary>
/// Rewrites a model folder's graph with n-bit weights: every MatMul whose weight is a constant 2-D float32 initializer,
/// directly or through a <c>Transpose</c> (a tied lm_head), becomes com.microsoft <c>MatMulNBits</c>. Weights are read and
/// written one tensor at a time (external data in, external data out), so memory stays near the largest tensor.
/// Configuration and tokenizer files are copied beside the graph and the settings recorded in <c>quantize_config.json</c>.
/// </summary>
public static class ModelQuantizer
{
    private const string MicrosoftDomain = "com.microsoft";
    private const string ConfigFileName = "quantize_config.json";

    /// <summary>Quantizes the model in <paramref name="modelDirectory"/> into <paramref name="outputDirectory"/>.</summary>
    /// <param name="modelDirectory">A model folder holding <c>model.onnx</c> (or <c>onnx/model.onnx</c>), or the graph itself.</param>
    /// <param name="outputDirectory">Where the quantized model goes (created when missing; may be the source folder with a <see cref="QuantizeOptions.Variant"/>).</param>
    /// <param name="options">The settings; null for 4-bit symmetric, block 32, accuracy level 4.</param>
    /// <param name="cancellationToken">Stops between tensors.</param>
    /// <returns>What was written.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    /// <exception cref="QuantizationException">The model cannot be quantized; the message says why.</exception>
    public static QuantizationResult Quantize(string modelDirectory, string outputDirectory, QuantizeOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        options ??= new QuantizeOptions();
        options.Validate();

        var (sourceFolder, sourceGraph) = FindGraph(modelDirectory);
        var sourceGraphFolder = Path.GetDirectoryName(sourceGraph)!;
        var model = ReadModel(sourceGraph);
        var graph = model.Graph ?? throw new QuantizationException($"'{sourceGraph}' holds no graph.");

        // A variant goes where the folder's graphs are: beside a model.onnx already at the output's top (the library
        // looks in onnx/ only when the top holds no graph), else in the hub layout's onnx/ subfolder.
        var outputGraph = OutputGraphPath(outputDirectory, options.Variant);
        if (Path.GetFullPath(outputGraph) == Path.GetFullPath(sourceGraph))
        {
            throw new QuantizationException($"The output graph '{outputGraph}' would overwrite the source; choose another --output or give a --variant.");
        }

        var outputData = outputGraph + ".data";
        Directory.CreateDirectory(Path.GetDirectoryName(outputGraph)!);

        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var tensor in graph.Initializer)
        {
            initializers[tensor.Name] = tensor;
        }

        var producers = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output)
            {
                producers[output] = node;
            }
        }

        var sourceDataFiles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in graph.Initializer)
        {
            if (External(tensor) is { } external)
            {
                sourceDataFiles.Add(external.Location);
            }
        }

        var quantized = new List<string>();
        var skipped = new List<string>();
        var newTensors = new List<TensorProto>();
        var pending = new Dictionary<TensorProto, byte[]>();
        foreach (var node in graph.Node)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (node.OpType != "MatMul" || node.Domain is { Length: > 0 } || node.Input.Count != 2)
            {
                continue;
            }

            var weightName = node.Input[1];
            var transposed = false;
            if (!initializers.TryGetValue(weightName, out var weight))
            {
                if (producers.TryGetValue(weightName, out var producer) && producer.OpType == "Transpose" && producer.Input.Count == 1
                    && initializers.TryGetValue(producer.Input[0], out var source) && IsSwap(producer))
                {
                    weight = source;
                    transposed = true;
                }
                else
                {
                    continue; // Not a constant weight: an activation product such as attention's Q·Kᵀ.
                }
            }

            if (options.Exclude.Contains(node.Name) || options.Exclude.Contains(weightName) || options.Exclude.Contains(weight.Name))
            {
                skipped.Add($"{weightName}: excluded");
                continue;
            }

            if (weight.Dims.Count != 2)
            {
                skipped.Add($"{weightName}: a {weight.Dims.Count}-D weight (MatMulNBits takes 2-D weights)");
                continue;
            }

            if (weight.DataType != (int)TensorProto.Types.DataType.Float)
            {
                skipped.Add($"{weightName}: element type {weight.DataType} (only float32 weights are quantized)");
                continue;
            }

            var (k, n) = transposed ? (checked((int)weight.Dims[1]), checked((int)weight.Dims[0])) : (checked((int)weight.Dims[0]), checked((int)weight.Dims[1]));
            var values = ReadFloats(weight, sourceGraphFolder);
            var q = BlockQuantizer.Quantize(values, k, n, options.Bits, options.BlockSize, options.Symmetric, transposed);
            var prefix = weightName + "_Q" + options.Bits.ToString(CultureInfo.InvariantCulture);
            var packed = NewTensor(prefix, TensorProto.Types.DataType.Uint8, [n, q.BlocksPerColumn, options.BlockSize * options.Bits / 8]);
            var scales = NewTensor(weightName + "_scales", TensorProto.Types.DataType.Float, [q.Scales.Length]);
            pending[packed] = q.Packed;
            pending[scales] = MemoryMarshal.AsBytes(q.Scales.AsSpan()).ToArray();
            newTensors.Add(packed);
            newTensors.Add(scales);

            var inputs = new List<string> { node.Input[0], packed.Name, scales.Name };
            if (q.ZeroPoints is { } zeroPoints)
            {
                var zp = NewTensor(weightName + "_zero_points", TensorProto.Types.DataType.Uint8, [zeroPoints.Length]);
                pending[zp] = zeroPoints;
                newTensors.Add(zp);
                inputs.Add(zp.Name);
            }

            node.OpType = "MatMulNBits";
            node.Domain = MicrosoftDomain;
            if (node.Name is { Length: > 0 })
            {
                node.Name += "_Q" + options.Bits.ToString(CultureInfo.InvariantCulture);
            }

            node.Input.Clear();
            node.Input.AddRange(inputs);
            node.Attribute.Clear();
            node.Attribute.Add(IntAttribute("K", k));
            node.Attribute.Add(IntAttribute("N", n));
            node.Attribute.Add(IntAttribute("bits", options.Bits));
            node.Attribute.Add(IntAttribute("block_size", options.BlockSize));
            if (options.AccuracyLevel > 0)
            {
                node.Attribute.Add(IntAttribute("accuracy_level", options.AccuracyLevel));
            }

            quantized.Add(weightName);
        }

        string? embedding = null;
        if (options.QuantizeEmbedding)
        {
            embedding = QuantizeEmbedding(graph, initializers, options, sourceGraphFolder, newTensors, pending, skipped);
        }

        if (quantized.Count == 0)
        {
            throw new QuantizationException($"'{sourceGraph}' has no MatMul with a constant 2-D float32 weight to quantize"
                + (skipped.Count > 0 ? $" (skipped: {string.Join("; ", skipped)})." : " (its weights may already be quantized, or fused into other operators)."));
        }

        graph.Initializer.AddRange(newTensors);
        RemoveUnused(graph);
        if (!model.OpsetImport.Any(o => o.Domain == MicrosoftDomain))
        {
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = MicrosoftDomain, Version = 1 });
        }

        var sourceBytes = new FileInfo(sourceGraph).Length + sourceDataFiles.Sum(f => FileLength(Path.Combine(sourceGraphFolder, f)));
        WriteData(graph, pending, sourceGraphFolder, outputData, cancellationToken);
        using (var stream = File.Create(outputGraph))
        {
            model.WriteTo(stream);
        }

        var copied = CopyFolderFiles(sourceFolder, outputDirectory, sourceDataFiles);
        WriteConfig(outputDirectory, outputGraph, options, quantized, skipped, Path.GetRelativePath(sourceFolder, sourceGraph), embedding);
        return new QuantizationResult
        {
            GraphPath = outputGraph,
            DataPath = outputData,
            Quantized = quantized,
            QuantizedEmbedding = embedding,
            Skipped = skipped,
            SourceBytes = sourceBytes,
            OutputBytes = new FileInfo(outputGraph).Length + new FileInfo(outputData).Length,
            CopiedFiles = copied,
        };
    }

    /// <summary>
    /// Rewrites the token embedding's <c>Gather</c> (a 2-D float32 initializer gathered along axis 0 by the graph's
    /// <c>input_ids</c>, else the largest such table) as com.microsoft <c>GatherBlockQuantized</c>: the table is
    /// quantized row by row in blocks along the hidden dimension with the MatMulNBits packing (uint8 data [rows, cols *
    /// bits / 8], low nibble first; scales [rows, cols / block]; symmetric: no zero points, ONNX Runtime's default
    /// 2^(bits-1)). Returns the table's name, or null with the reason added to <paramref name="skipped"/>.
    /// </summary>
    private static string? QuantizeEmbedding(GraphProto graph, Dictionary<string, TensorProto> initializers, QuantizeOptions options, string sourceFolder, List<TensorProto> newTensors, Dictionary<TensorProto, byte[]> pending, List<string> skipped)
    {
        var inputs = new HashSet<string>(graph.Input.Select(i => i.Name), StringComparer.Ordinal);
        var candidates = graph.Node
            .Where(n => n.OpType == "Gather" && n.Domain is not { Length: > 0 } && n.Input.Count == 2 && initializers.ContainsKey(n.Input[0])
                && (n.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 0) == 0)
            .Select(n => (Node: n, Table: initializers[n.Input[0]]))
            .Where(c => c.Table.Dims.Count == 2 && c.Table.DataType == (int)TensorProto.Types.DataType.Float)
            .ToList();
        var chosen = candidates.Where(c => c.Node.Input[1] == "input_ids" || !inputs.Contains("input_ids")).OrderByDescending(c => c.Table.Dims[0] * c.Table.Dims[1]).FirstOrDefault();
        if (chosen.Node is null)
        {
            chosen = candidates.OrderByDescending(c => c.Table.Dims[0] * c.Table.Dims[1]).FirstOrDefault();
        }

        if (chosen.Node is null)
        {
            skipped.Add("embedding: no Gather over a constant 2-D float32 table");
            return null;
        }

        var (node, table) = chosen;
        if (options.Exclude.Contains(node.Name) || options.Exclude.Contains(table.Name))
        {
            skipped.Add($"{table.Name}: excluded");
            return null;
        }

        var rows = checked((int)table.Dims[0]);
        var cols = checked((int)table.Dims[1]);
        if (cols % options.BlockSize != 0)
        {
            skipped.Add($"{table.Name}: its {cols} columns are not whole blocks of {options.BlockSize} (GatherBlockQuantized packs whole blocks)");
            return null;
        }

        // The table [rows, cols] is Bᵀ of a [cols, rows] weight: the quantizer's "columns" are its rows, blocked along cols.
        var q = BlockQuantizer.Quantize(ReadFloats(table, sourceFolder), cols, rows, options.Bits, options.BlockSize, options.Symmetric, transposed: true);
        var suffix = "_Q" + options.Bits.ToString(CultureInfo.InvariantCulture);
        var data = NewTensor(table.Name + suffix, TensorProto.Types.DataType.Uint8, [rows, (long)cols * options.Bits / 8]);
        var scales = NewTensor(table.Name + "_scales", TensorProto.Types.DataType.Float, [rows, q.BlocksPerColumn]);
        pending[data] = q.Packed;
        pending[scales] = MemoryMarshal.AsBytes(q.Scales.AsSpan()).ToArray();
        newTensors.Add(data);
        newTensors.Add(scales);
        var indices = node.Input[1];
        node.Input.Clear();
        node.Input.Add(data.Name);
        node.Input.Add(indices);
        node.Input.Add(scales.Name);
        if (q.ZeroPoints is { } zeroPoints)
        {
            var zp = NewTensor(table.Name + "_zero_points", TensorProto.Types.DataType.Uint8, [rows, zeroPoints.Length / rows]);
            pending[zp] = zeroPoints;
            newTensors.Add(zp);
            node.Input.Add(zp.Name);
        }

        node.OpType = "GatherBlockQuantized";
        node.Domain = MicrosoftDomain;
        if (node.Name is { Length: > 0 })
        {
            node.Name += suffix;
        }

        node.Attribute.Clear();
        node.Attribute.Add(IntAttribute("bits", options.Bits));
        node.Attribute.Add(IntAttribute("block_size", options.BlockSize));
        node.Attribute.Add(IntAttribute("gather_axis", 0));
        node.Attribute.Add(IntAttribute("quantize_axis", 1));
        return table.Name;
    }

    /// <summary>The folder (for configuration files) and graph a model path names.</summary>
    internal static (string Folder, string Graph) FindGraph(string modelDirectory)
    {
        if (File.Exists(modelDirectory))
        {
            return (Path.GetDirectoryName(Path.GetFullPath(modelDirectory))!, modelDirectory);
        }

        if (!Directory.Exists(modelDirectory))
        {
            throw new QuantizationException($"No model folder or graph at '{modelDirectory}'.");
        }

        foreach (var candidate in new[] { Path.Combine(modelDirectory, "model.onnx"), Path.Combine(modelDirectory, "onnx", "model.onnx") })
        {
            if (File.Exists(candidate))
            {
                return (modelDirectory, candidate);
            }
        }

        throw new QuantizationException($"'{modelDirectory}' has neither model.onnx nor onnx/model.onnx; give the float32 graph's folder or the .onnx file.");
    }

    internal static ModelProto ReadModel(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new QuantizationException($"'{path}' is not an ONNX model ({ex.Message}).", ex);
        }
    }

    private static bool IsSwap(NodeProto transpose)
    {
        var perm = transpose.Attribute.FirstOrDefault(a => a.Name == "perm");
        // Without perm, Transpose reverses the axes: a swap for 2-D.
        return perm is null || (perm.Ints.Count == 2 && perm.Ints[0] == 1 && perm.Ints[1] == 0);
    }

    internal static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    internal static TensorProto NewTensor(string name, TensorProto.Types.DataType type, long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type };
        tensor.Dims.AddRange(dims);
        return tensor;
    }

    internal sealed record ExternalRef(string Location, long Offset, long Length);

    internal static ExternalRef? External(TensorProto tensor)
    {
        if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
        {
            return null;
        }

        string? location = null;
        long offset = 0;
        long length = -1;
        foreach (var entry in tensor.ExternalData)
        {
            switch (entry.Key)
            {
                case "location":
                    location = entry.Value;
                    break;
                case "offset":
                    offset = long.Parse(entry.Value, CultureInfo.InvariantCulture);
                    break;
                case "length":
                    length = long.Parse(entry.Value, CultureInfo.InvariantCulture);
                    break;
            }
        }

        if (location is null)
        {
            throw new QuantizationException($"Initializer '{tensor.Name}' is external but names no location.");
        }

        return new ExternalRef(location, offset, length);
    }

    private static long ElementCount(TensorProto tensor) => tensor.Dims.Aggregate(1L, (a, d) => a * d);

    /// <summary>A float32 initializer's values, from its external data, raw bytes or float_data.</summary>
    internal static float[] ReadFloats(TensorProto tensor, string graphFolder)
    {
        var count = ElementCount(tensor);
        var values = new float[count];
        var bytes = MemoryMarshal.AsBytes(values.AsSpan());
        if (External(tensor) is { } external)
        {
            var path = Path.Combine(graphFolder, external.Location);
            if (!File.Exists(path))
            {
                throw new QuantizationException($"Initializer '{tensor.Name}' lives in '{path}', which is missing; put the external data file beside the graph.");
            }

            using var file = File.OpenRead(path);
            if (external.Offset + bytes.Length > file.Length || (external.Length >= 0 && external.Length != bytes.Length))
            {
                throw new QuantizationException($"Initializer '{tensor.Name}' needs {bytes.Length} bytes at offset {external.Offset} of '{path}', which is truncated or disagrees.");
            }

            file.Position = external.Offset;
            file.ReadExactly(bytes);
        }
        else if (tensor.HasRawData)
        {
            if (tensor.RawData.Length != bytes.Length)
            {
                throw new QuantizationException($"Initializer '{tensor.Name}' holds {tensor.RawData.Length} bytes, not the {bytes.Length} its shape needs.");
            }

            tensor.RawData.Span.CopyTo(bytes);
        }
        else if (tensor.FloatData.Count == count)
        {
            tensor.FloatData.CopyTo(values, 0);
        }
        else
        {
            throw new QuantizationException($"Initializer '{tensor.Name}' holds no data for its {count} values.");
        }

        return values;
    }

    /// <summary>Drops nodes (the tied lm_head's Transpose) and initializers nothing reads any more.</summary>
    private static void RemoveUnused(GraphProto graph)
    {
        while (true)
        {
            var used = new HashSet<string>(graph.Output.Select(o => o.Name), StringComparer.Ordinal);
            foreach (var node in graph.Node)
            {
                used.UnionWith(node.Input);
            }

            var deadNodes = graph.Node.Where(n => n.OpType == "Transpose" && n.Output.All(o => !used.Contains(o))).ToList();
            foreach (var node in deadNodes)
            {
                graph.Node.Remove(node);
            }

            var deadTensors = graph.Initializer.Where(t => !used.Contains(t.Name)).ToList();
            foreach (var tensor in deadTensors)
            {
                graph.Initializer.Remove(tensor);
            }

            if (deadNodes.Count == 0 && deadTensors.Count == 0)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Writes the external data file: new tensors from <paramref name="pending"/>, and the source's external tensors
    /// copied through a small buffer; inline source tensors stay inline.
    /// </summary>
    internal static void WriteData(GraphProto graph, Dictionary<TensorProto, byte[]> pending, string sourceFolder, string dataPath, CancellationToken cancellationToken)
    {
        var location = Path.GetFileName(dataPath);
        var buffer = new byte[1 << 20];
        var sources = new Dictionary<string, FileStream>(StringComparer.Ordinal);
        try
        {
            using var output = File.Create(dataPath);
            foreach (var tensor in graph.Initializer)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var external = External(tensor);
                if (external is null && !pending.ContainsKey(tensor))
                {
                    continue;
                }

                // 64-byte alignment keeps every tensor aligned for ONNX Runtime's memory-mapped reads.
                var padding = (int)((64 - (output.Position % 64)) % 64);
                output.Write(new byte[padding]);
                var offset = output.Position;
                long length;
                if (pending.TryGetValue(tensor, out var bytes))
                {
                    output.Write(bytes);
                    length = bytes.Length;
                }
                else
                {
                    if (!sources.TryGetValue(external!.Location, out var source))
                    {
                        var path = Path.Combine(sourceFolder, external.Location);
                        if (!File.Exists(path))
                        {
                            throw new QuantizationException($"Initializer '{tensor.Name}' lives in '{path}', which is missing; put the external data file beside the graph.");
                        }

                        source = File.OpenRead(path);
                        sources[external.Location] = source;
                    }

                    length = external.Length >= 0 ? external.Length : ElementBytes(tensor);
                    source.Position = external.Offset;
                    for (var left = length; left > 0;)
                    {
                        var read = source.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
                        if (read == 0)
                        {
                            throw new QuantizationException($"'{Path.Combine(sourceFolder, external.Location)}' ends before initializer '{tensor.Name}' does.");
                        }

                        output.Write(buffer, 0, read);
                        left -= read;
                    }
                }

                tensor.ClearRawData();
                tensor.FloatData.Clear();
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.ExternalData.Clear();
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(CultureInfo.InvariantCulture) });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.ToString(CultureInfo.InvariantCulture) });
            }
        }
        finally
        {
            foreach (var source in sources.Values)
            {
                source.Dispose();
            }
        }
    }

    private static long ElementBytes(TensorProto tensor) => ElementCount(tensor) * (TensorProto.Types.DataType)tensor.DataType switch
    {
        TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Int8 => 1,
        TensorProto.Types.DataType.Float16 => 2,
        TensorProto.Types.DataType.Int64 => 8,
        TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 => 4,
        _ => throw new QuantizationException($"Initializer '{tensor.Name}' is external without a length, and its element type {tensor.DataType} has no known size."),
    };

    internal static long FileLength(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>Copies the folder's configuration and tokenizer files (not graphs or weights) into the output folder.</summary>
    internal static List<string> CopyFolderFiles(string sourceFolder, string outputDirectory, HashSet<string> dataFiles)
    {
        var copied = new List<string>();
        if (Path.GetFullPath(sourceFolder) == Path.GetFullPath(outputDirectory))
        {
            return copied;
        }

        foreach (var file in Directory.EnumerateFiles(sourceFolder))
        {
            var name = Path.GetFileName(file);
            if (name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".onnx.data", StringComparison.OrdinalIgnoreCase)
                || name.EndsWith(".onnx_data", StringComparison.OrdinalIgnoreCase) || dataFiles.Contains(name)
                || name is ConfigFileName or "weights.manifest.json" || name.StartsWith("optimize_config", StringComparison.Ordinal))
            {
                continue;
            }

            File.Copy(file, Path.Combine(outputDirectory, name), overwrite: true);
            copied.Add(name);
        }

        return copied;
    }

    private static void WriteConfig(string outputDirectory, string outputGraph, QuantizeOptions options, List<string> quantized, List<string> skipped, string source, string? embedding)
    {
        var config = new Dictionary<string, object?>
        {
            ["quant_method"] = "matmul_nbits",
            ["graph"] = Path.GetRelativePath(outputDirectory, outputGraph).Replace('\\', '/'),
            ["source_graph"] = source.Replace('\\', '/'),
            ["bits"] = options.Bits,
            ["block_size"] = options.BlockSize,
            ["symmetric"] = options.Symmetric,
            ["accuracy_level"] = options.AccuracyLevel,
            ["algorithm"] = "round-to-nearest (onnxruntime matmul_nbits_quantizer, DefaultWeightOnlyQuantizer)",
            ["exclude"] = options.Exclude.ToArray(),
            ["quantized"] = quantized,
            ["quantized_embedding"] = embedding,
            ["skipped"] = skipped,
        };
        File.WriteAllText(Path.Combine(outputDirectory, ConfigFileName), JsonSerializer.Serialize(config, ConfigJson.Default.DictionaryStringObject));
    }

    /// <summary>
    /// Where a written graph goes: <c>model.onnx</c>, or a variant beside a <c>model.onnx</c> already at the output's
    /// top, else in the hub layout's <c>onnx/</c> subfolder (as the library looks for it).
    /// </summary>
    internal static string OutputGraphPath(string outputDirectory, string? variant) => variant is null
        ? Path.Combine(outputDirectory, "model.onnx")
        : File.Exists(Path.Combine(outputDirectory, "model.onnx"))
            ? Path.Combine(outputDirectory, $"model_{variant}.onnx")
            : Path.Combine(outputDirectory, "onnx", $"model_{variant}.onnx");
}
