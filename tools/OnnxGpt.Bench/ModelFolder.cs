using System.Text.Json;

namespace OnnxGpt.Bench;

/// <summary>What the benchmark needs to know about a model folder, read from its <c>genai_config.json</c> (and <c>config.json</c>).</summary>
internal sealed class ModelFolder
{
    public required string Directory { get; init; }

    public required string GraphPath { get; init; }

    /// <summary>The graph variant chosen (see <see cref="OnnxGpt.Models.ModelFolder"/>); null for <c>model.onnx</c>.</summary>
    public string? Variant { get; init; }

    public required int VocabularySize { get; init; }

    public required int ContextLength { get; init; }

    public required IReadOnlyList<int> EosTokenIds { get; init; }

    public required bool HasManifest { get; init; }

    public static ModelFolder Read(string directory, string? variant = null)
    {
        var full = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"The model folder '{full}' does not exist.");
        }

        // A variant is resolved as the library resolves it; the default stays the root's model.onnx, whose weights
        // the benchmark graphs write only later (so its external data is not checked here).
        var graph = variant is null ? Path.Combine(full, "model.onnx") : OnnxGpt.Models.ModelFolder.Resolve(full, variant).GraphPath;
        if (!File.Exists(graph))
        {
            throw new FileNotFoundException($"'{full}' has no model.onnx.", graph);
        }

        var genaiPath = Path.Combine(full, "genai_config.json");
        if (!File.Exists(genaiPath))
        {
            throw new FileNotFoundException($"'{full}' has no genai_config.json; the benchmark reads the vocabulary, context and end-of-sequence ids from it (and GenAI needs it).", genaiPath);
        }

        int? vocab = null, context = null;
        var eos = new List<int>();
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(genaiPath));
            if (doc.RootElement.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object)
            {
                vocab = Int(model, "vocab_size");
                context = Int(model, "context_length");
                if (model.TryGetProperty("eos_token_id", out var e))
                {
                    if (e.ValueKind == JsonValueKind.Number)
                    {
                        eos.Add(e.GetInt32());
                    }
                    else if (e.ValueKind == JsonValueKind.Array)
                    {
                        eos.AddRange(e.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetInt32()));
                    }
                }
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{genaiPath} is not valid JSON: {ex.Message}", ex);
        }

        return new ModelFolder
        {
            Directory = full,
            GraphPath = graph,
            Variant = variant,
            VocabularySize = vocab is > 0 ? vocab.Value : throw new InvalidDataException($"{genaiPath} has no positive model.vocab_size."),
            ContextLength = context is > 1 ? context.Value : throw new InvalidDataException($"{genaiPath} has no model.context_length above 1."),
            EosTokenIds = eos,
            HasManifest = File.Exists(Path.Combine(full, WeightsManifest.FileName)),
        };
    }

    /// <summary>Bytes of weights one token's forward pass reads: the manifest's initializers (for model.onnx), else the graph file plus any data file beside it (a variant's quantized weights).</summary>
    public long WeightBytes()
    {
        if (HasManifest && Variant is null)
        {
            return WeightsManifest.Read(Directory).TensorBytes;
        }

        // Through symbolic links to the files themselves (a variant linked beside model.onnx).
        static long Length(string path) => File.Exists(path) ? new FileInfo(File.ResolveLinkTarget(path, returnFinalTarget: true)?.FullName ?? path).Length : 0;
        return Length(GraphPath) + Length(GraphPath + ".data");
    }

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;
}
