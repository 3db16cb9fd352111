namespace OnnxGpt.Models;

/// <summary>
/// Which files a model path stands for, resolved as a Hugging Face download is laid out: the configuration and
/// tokenizer files in the folder, the graph in the folder or in its <c>onnx/</c> subfolder, one of several variants of
/// the graph chosen by name as transformers.js's <c>dtype</c> chooses it (<c>model_q4.onnx</c> is variant <c>q4</c>,
/// <c>model.onnx</c> is <see cref="DefaultVariant"/>), and the external data files the graph names.
/// </summary>
public sealed class ModelFolder
{
    /// <summary>The name of the variant without a suffix (<c>model.onnx</c>, <c>decoder_model_merged.onnx</c>), as transformers.js calls it.</summary>
    public const string DefaultVariant = "fp32";

    /// <summary>The subfolder Hugging Face exports put the graphs in.</summary>
    public const string OnnxSubfolder = "onnx";

    // Longest first: "decoder_model_merged_q4" also starts with "decoder_model_".
    private static readonly string[] GraphBaseNames = ["decoder_with_past_model", "decoder_model_merged", "decoder_model", "model"];

    private ModelFolder(string modelPath, string directory, string graphDirectory, string graphPath, string? prefillGraphPath, string variant, IReadOnlyList<string> variants, IReadOnlyList<string> externalDataFiles)
    {
        ModelPath = modelPath;
        Directory = directory;
        GraphDirectory = graphDirectory;
        GraphPath = graphPath;
        PrefillGraphPath = prefillGraphPath;
        Variant = variant;
        Variants = variants;
        ExternalDataFiles = externalDataFiles;
    }

    /// <summary>The model path as given.</summary>
    public string ModelPath { get; }

    /// <summary>The full path of the folder holding <c>config.json</c>, <c>generation_config.json</c> and the tokenizer files.</summary>
    public string Directory { get; }

    /// <summary>The full path of the folder holding the loaded graph: <see cref="Directory"/> or its <c>onnx/</c> subfolder.</summary>
    public string GraphDirectory { get; }

    /// <summary>The full path of the graph that runs (in the split layout, <c>decoder_with_past_model.onnx</c>).</summary>
    public string GraphPath { get; }

    /// <summary>The graph that runs the prompt in Optimum's split layout (<c>decoder_model.onnx</c>); null otherwise.</summary>
    public string? PrefillGraphPath { get; }

    /// <summary>The variant that is loaded: <see cref="DefaultVariant"/> for <c>model.onnx</c>, <c>q4</c> for <c>model_q4.onnx</c>.</summary>
    public string Variant { get; }

    /// <summary>Every variant found in the folder and in its <c>onnx/</c> subfolder, <see cref="DefaultVariant"/> first, then by name.</summary>
    public IReadOnlyList<string> Variants { get; }

    /// <summary>The full paths of the external data files the loaded graphs name (all present), in the order they are named.</summary>
    public IReadOnlyList<string> ExternalDataFiles { get; }

    /// <summary>Resolves which graph <paramref name="modelPath"/> and <paramref name="variant"/> stand for, and checks its external data is there.</summary>
    /// <param name="modelPath">A model folder (the graph in it or in its <c>onnx/</c> subfolder) or an <c>.onnx</c> file.
    /// A relative path is resolved against the current directory, then against the application's folder.</param>
    /// <param name="variant">The graph variant (<c>fp16</c>, <c>q4</c>, ...: <c>model_NAME.onnx</c>); null for <c>model.onnx</c>.</param>
    /// <returns>The resolved files.</returns>
    /// <exception cref="ModelLoadException">Nothing to load is there, the variant does not exist (the message lists those
    /// that do), several variants exist and none is the default, a graph is not ONNX, or its external data is missing.</exception>
    public static ModelFolder Resolve(string modelPath, string? variant = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        var full = ResolvePath(modelPath);
        if (File.Exists(full))
        {
            return ResolveFile(modelPath, full, variant);
        }

        if (!System.IO.Directory.Exists(full))
        {
            throw new ModelLoadException(modelPath, $"no such folder or file (looked at '{full}'). Check GptOptions.ModelPath.");
        }

        // The root first, then onnx/: both are searched, and a variant found in both is ambiguous.
        var rootGraphs = Graphs(modelPath, full);
        var subfolder = Path.Combine(full, OnnxSubfolder);
        var subGraphs = System.IO.Directory.Exists(subfolder) ? Graphs(modelPath, subfolder) : [];
        var graphs = rootGraphs.Concat(subGraphs).ToList();
        if (graphs.Count == 0)
        {
            throw new ModelLoadException(modelPath, $"the folder holds no .onnx graph, nor does its {OnnxSubfolder}/ subfolder (expected model.onnx).");
        }

        var variants = VariantsOf(graphs);
        var inRoot = Pick(rootGraphs, variant);
        var inSubfolder = Pick(subGraphs, variant);
        if (inRoot.Graph is not null && inSubfolder.Graph is not null)
        {
            var name = variant ?? DefaultVariant;
            throw new ModelLoadException(modelPath, $"the variant '{name}' is there twice: '{inRoot.Graph}' and '{inSubfolder.Graph}'. Remove or rename one of them, or give the path of the .onnx file to load.");
        }

        var (graph, prefill) = inRoot.Graph is not null ? inRoot : inSubfolder;
        var graphDirectory = graph is null ? (rootGraphs.Count > 0 ? full : subfolder) : Path.GetDirectoryName(graph)!;
        if (graph is null)
        {
            if (variant is not null)
            {
                throw new ModelLoadException(modelPath, $"there is no variant '{variant}' (model_{variant}.onnx) in '{(subGraphs.Count > 0 && rootGraphs.Count > 0 ? $"{full}' or '{subfolder}" : graphDirectory)}'; the variants there are: {Describe(variants)}. Set GptOptions.Variant to one of them.");
            }

            if (graphs.Count > 1)
            {
                throw new ModelLoadException(modelPath, $"the folder holds several graphs and none is model.onnx; choose one with GptOptions.Variant: {Describe(variants)}.");
            }

            graph = graphs[0];
            graphDirectory = Path.GetDirectoryName(graph)!;
        }

        var loaded = VariantOf(Path.GetFileNameWithoutExtension(graph));
        var external = ExternalData(modelPath, graph).Concat(prefill is null ? [] : ExternalData(modelPath, prefill)).Distinct(StringComparer.Ordinal).ToList();
        return new ModelFolder(modelPath, full, graphDirectory, graph, prefill, loaded, variants, external);
    }

    /// <summary>
    /// The full path a model path stands for: relative to the current directory when something is there, else
    /// relative to the application's folder (where a model copied beside the executable is), else the first.
    /// </summary>
    /// <param name="modelPath">A folder or file path.</param>
    /// <returns>The full path, whether or not it exists.</returns>
    public static string ResolvePath(string modelPath)
    {
        ArgumentNullException.ThrowIfNull(modelPath);
        var full = Path.GetFullPath(modelPath);
        if (Path.IsPathRooted(modelPath) || File.Exists(full) || System.IO.Directory.Exists(full))
        {
            return full;
        }

        var besideApp = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, modelPath));
        return File.Exists(besideApp) || System.IO.Directory.Exists(besideApp) ? besideApp : full;
    }

    /// <summary>
    /// The folder of a model path that holds its configuration files: the folder itself, or for a graph file the
    /// folder above <c>onnx/</c> when the graph sits in a hub layout's <c>onnx/</c> subfolder.
    /// </summary>
    /// <param name="fullPath">A resolved folder or file path (see <see cref="ResolvePath"/>).</param>
    /// <returns>The folder's full path.</returns>
    public static string ConfigurationDirectory(string fullPath)
    {
        ArgumentNullException.ThrowIfNull(fullPath);
        if (!File.Exists(fullPath))
        {
            return fullPath;
        }

        var folder = Path.GetDirectoryName(fullPath)!;
        var parent = Path.GetDirectoryName(folder);
        return string.Equals(Path.GetFileName(folder), OnnxSubfolder, StringComparison.Ordinal)
            && parent is not null
            && !File.Exists(Path.Combine(folder, "config.json"))
            && File.Exists(Path.Combine(parent, "config.json"))
            ? parent
            : folder;
    }

    private static ModelFolder ResolveFile(string modelPath, string full, string? variant)
    {
        if (!full.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelLoadException(modelPath, "the path is a file but not an .onnx graph; give the model folder or its .onnx file.");
        }

        if (variant is not null)
        {
            throw new ModelLoadException(modelPath, $"GptOptions.Variant '{variant}' chooses a graph in a folder, but the path names the graph file itself; give the folder, or leave Variant unset.");
        }

        var graphDirectory = Path.GetDirectoryName(full)!;
        var variants = VariantsOf(Graphs(modelPath, graphDirectory));
        return new ModelFolder(modelPath, ConfigurationDirectory(full), graphDirectory, full, null, VariantOf(Path.GetFileNameWithoutExtension(full)), variants, ExternalData(modelPath, full));
    }

    /// <summary>The graph (and the split layout's prefill graph) of a variant; null when the folder has no such graph.</summary>
    private static (string? Graph, string? Prefill) Pick(IReadOnlyList<string> graphs, string? variant)
    {
        var byName = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var graph in graphs)
        {
            byName.TryAdd(Path.GetFileName(graph), graph);
        }

        var suffix = variant is null || string.Equals(variant, DefaultVariant, StringComparison.OrdinalIgnoreCase) ? string.Empty : "_" + variant;
        foreach (var name in new[] { "model", "decoder_model_merged" })
        {
            if (byName.TryGetValue(name + suffix + ".onnx", out var single))
            {
                return (single, null);
            }
        }

        // Optimum's older split layout: one graph for the prompt, another for the steps that have a past.
        if (byName.TryGetValue("decoder_with_past_model" + suffix + ".onnx", out var withPast) && byName.TryGetValue("decoder_model" + suffix + ".onnx", out var first))
        {
            return (withPast, first);
        }

        // Any other graph by its own name (the variant of a graph outside the naming scheme).
        return variant is not null && byName.TryGetValue(variant + ".onnx", out var named) ? (named, null) : (null, null);
    }

    /// <summary>The variant a graph file stands for: the suffix after its base name, <see cref="DefaultVariant"/> without one, else its own name.</summary>
    private static string VariantOf(string stem)
    {
        foreach (var baseName in GraphBaseNames)
        {
            if (string.Equals(stem, baseName, StringComparison.OrdinalIgnoreCase))
            {
                return DefaultVariant;
            }

            if (stem.Length > baseName.Length + 1 && stem.StartsWith(baseName + "_", StringComparison.OrdinalIgnoreCase))
            {
                return stem[(baseName.Length + 1)..];
            }
        }

        return stem;
    }

    private static List<string> VariantsOf(IReadOnlyList<string> graphs)
    {
        var names = graphs.Select(g => VariantOf(Path.GetFileNameWithoutExtension(g))).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        names.Sort((a, b) => (a == DefaultVariant, b == DefaultVariant) switch
        {
            (true, false) => -1,
            (false, true) => 1,
            _ => string.CompareOrdinal(a, b),
        });
        return names;
    }

    private static string Describe(IReadOnlyList<string> variants) => string.Join(", ", variants.Select(v => v == DefaultVariant ? $"{v} (model.onnx)" : v));

    private static List<string> Graphs(string modelPath, string directory)
    {
        try
        {
            var graphs = System.IO.Directory.GetFiles(directory, "*.onnx")
                .Where(f => f.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
                .ToList();
            graphs.Sort(StringComparer.Ordinal);
            return graphs;
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw new ModelLoadException(modelPath, $"the folder '{directory}' cannot be read ({ex.Message}).", ex);
        }
    }

    /// <summary>The external data files a graph names, each checked to be present beside it (ONNX Runtime looks there).</summary>
    private static List<string> ExternalData(string modelPath, string graph)
    {
        var name = Path.GetFileName(graph);
        IReadOnlyList<string> locations;
        try
        {
            locations = OnnxGraphFile.ExternalDataLocations(graph);
        }
        catch (InvalidDataException ex)
        {
            throw new ModelLoadException(modelPath, $"'{name}' is not an ONNX graph ({ex.Message}); download or export it again.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(modelPath, $"'{name}' cannot be read ({ex.Message}).", ex);
        }

        var folder = Path.GetDirectoryName(graph)!;
        var files = new List<string>();
        foreach (var location in locations)
        {
            var path = Path.GetFullPath(Path.Combine(folder, location));
            if (Path.IsPathRooted(location) || !path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw new ModelLoadException(modelPath, $"'{name}' names external data at '{location}', outside its folder; ONNX Runtime reads external data only from the graph's folder. Export the graph with a relative location.");
            }

            if (!File.Exists(path))
            {
                throw new ModelLoadException(modelPath, $"'{name}' keeps its weights in the external data file '{location}', which is missing (looked at '{path}'). Download it into the graph's folder under that name.");
            }

            files.Add(path);
        }

        return files;
    }
}
