using System.Text.Json;
using Google.Protobuf;
using OnnxGpt.Onnx.Protos;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// Rewrites a model folder's graph with the operator fusions ONNX Runtime's offline transformer optimizer applies
/// (onnxruntime/python/tools/transformers) and ONNX Runtime does not do by itself at load: each fusion finds its
/// pattern and replaces it with one com.microsoft operator. Weights are copied tensor by tensor (external data in,
/// external data out); configuration and tokenizer files are copied beside the graph and the pass recorded in
/// <c>optimize_config.json</c> (<c>optimize_config_NAME.json</c> for a variant). The input may be a quantized graph.
/// </summary>
public static class GraphOptimizer
{
    /// <summary>The fusions, by name, in the order they run.</summary>
    public static IReadOnlyList<string> FusionNames => FusionRegistry.Names;

    /// <summary>
    /// Applies <paramref name="fusions"/> to the graph file at <paramref name="graphPath"/> in memory and writes
    /// nothing: for a runtime that loads the result from bytes (OnnxGpt does, with LogitsToKeep, when it loads a
    /// model). Weights held as external data stay in their files; new constants are inline.
    /// </summary>
    /// <param name="graphPath">The <c>.onnx</c> file.</param>
    /// <param name="fusions">The fusions to apply, by name (see <see cref="FusionNames"/>); empty: every fusion that is on by default.</param>
    /// <param name="cancellationToken">Stops between fusions.</param>
    /// <returns>The rewritten bytes (null when nothing matched) and each fusion's count.</returns>
    /// <exception cref="ArgumentException">The path is empty.</exception>
    /// <exception cref="OptimizationException">The file is not an ONNX model, or a fusion name is unknown; the message says why.</exception>
    public static GraphRewrite Rewrite(string graphPath, IEnumerable<string> fusions, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(graphPath);
        ArgumentNullException.ThrowIfNull(fusions);
        var selected = FusionRegistry.Select(fusions);
        ModelProto model;
        try
        {
            model = ModelQuantizer.ReadModel(graphPath);
        }
        catch (Exception ex) when (ex is QuantizationException or IOException or UnauthorizedAccessException)
        {
            throw new OptimizationException(ex.Message, ex);
        }

        var context = new GraphContext(model, Path.GetDirectoryName(Path.GetFullPath(graphPath))!);
        var counts = RunFusions(context, selected, cancellationToken);

        if (counts.All(c => c.Count == 0))
        {
            return new GraphRewrite { Fusions = counts };
        }

        context.Finish();
        return new GraphRewrite { Graph = model.ToByteArray(), Fusions = counts };
    }

    /// <summary>Optimizes the model <paramref name="options"/> names into its output folder.</summary>
    /// <param name="options">Source, output, variant and fusions.</param>
    /// <param name="cancellationToken">Stops between fusions and between tensors.</param>
    /// <returns>What was written.</returns>
    /// <exception cref="ArgumentException">A path is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The variant is not a plain name.</exception>
    /// <exception cref="OptimizationException">The model cannot be read or written, or a fusion name is unknown; the message says why.</exception>
    public static OptimizationResult Optimize(OptimizeOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var fusions = FusionRegistry.Select(options.Fusions);
        string sourceFolder;
        string sourceGraph;
        ModelProto model;
        try
        {
            (sourceFolder, sourceGraph) = ModelQuantizer.FindGraph(options.ModelPath);
            model = ModelQuantizer.ReadModel(sourceGraph);
        }
        catch (QuantizationException ex)
        {
            throw new OptimizationException(ex.Message, ex);
        }

        var sourceGraphFolder = Path.GetDirectoryName(Path.GetFullPath(sourceGraph))!;
        var outputDirectory = options.OutputDirectory;
        var outputGraph = ModelQuantizer.OutputGraphPath(outputDirectory, options.Variant);
        if (Path.GetFullPath(outputGraph) == Path.GetFullPath(sourceGraph))
        {
            throw new OptimizationException($"The output graph '{outputGraph}' would overwrite the source; choose another output folder or give a variant.");
        }

        var context = new GraphContext(model, sourceGraphFolder);
        var before = GraphContext.CountOperators(context.Graph);
        var nodesBefore = context.Graph.Node.Count;
        var counts = RunFusions(context, fusions, cancellationToken);

        context.Finish();

        var sourceDataFiles = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tensor in context.Graph.Initializer)
        {
            if (ModelQuantizer.External(tensor) is { } external)
            {
                sourceDataFiles.Add(external.Location);
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputGraph))!);
        string? outputData = null;
        try
        {
            if (sourceDataFiles.Count > 0)
            {
                outputData = outputGraph + ".data";
                ModelQuantizer.WriteData(context.Graph, [], sourceGraphFolder, outputData, cancellationToken);
            }

            using (var stream = File.Create(outputGraph))
            {
                model.WriteTo(stream);
            }
        }
        catch (QuantizationException ex)
        {
            throw new OptimizationException(ex.Message, ex);
        }

        var copied = ModelQuantizer.CopyFolderFiles(sourceFolder, outputDirectory, sourceDataFiles);
        if (!copied.Contains("quantize_config.json") && Path.GetFullPath(sourceFolder) != Path.GetFullPath(outputDirectory)
            && File.Exists(Path.Combine(sourceFolder, "quantize_config.json")))
        {
            // A quantized source's settings still describe the optimized graph's weights.
            File.Copy(Path.Combine(sourceFolder, "quantize_config.json"), Path.Combine(outputDirectory, "quantize_config.json"), overwrite: true);
            copied.Add("quantize_config.json");
        }

        var after = GraphContext.CountOperators(context.Graph);
        var config = new Dictionary<string, object?>
        {
            ["graph"] = Path.GetRelativePath(outputDirectory, outputGraph).Replace('\\', '/'),
            ["source_graph"] = Path.GetRelativePath(sourceFolder, sourceGraph).Replace('\\', '/'),
            ["fusions"] = counts.ToDictionary(c => c.Name, c => c.Count),
            ["nodes_before"] = nodesBefore,
            ["nodes_after"] = context.Graph.Node.Count,
        };
        // One record per variant, so that optimizing several variants into one folder keeps each one's.
        var configName = options.Variant is null ? "optimize_config.json" : $"optimize_config_{options.Variant}.json";
        File.WriteAllText(Path.Combine(outputDirectory, configName), JsonSerializer.Serialize(config, ConfigJson.Default.DictionaryStringObject));
        return new OptimizationResult
        {
            GraphPath = outputGraph,
            DataPath = outputData,
            Fusions = counts,
            NodesBefore = nodesBefore,
            NodesAfter = context.Graph.Node.Count,
            OperatorsBefore = before,
            OperatorsAfter = after,
            CopiedFiles = copied,
        };
    }

    /// <summary>Applies each fusion in order to the graph, checking for cancellation between them.</summary>
    private static List<FusionCount> RunFusions(GraphContext context, IReadOnlyList<IGraphFusion> fusions, CancellationToken cancellationToken)
    {
        var counts = new List<FusionCount>(fusions.Count);
        foreach (var fusion in fusions)
        {
            cancellationToken.ThrowIfCancellationRequested();
            counts.Add(new FusionCount(fusion.Name, fusion.Apply(context)));
        }

        return counts;
    }
}
