using System.Globalization;
using System.Text.Json;
using OnnxGpt.Models;
using OnnxGpt.Tokenization;
using OnnxGpt.Generation;

namespace OnnxGpt.GenAI;

/// <summary>
/// What a folder published for onnxruntime-genai says about its model, read from its configuration files
/// (<c>genai_config.json</c>, <c>config.json</c>, <c>generation_config.json</c>, <c>tokenizer_config.json</c>) and the
/// graph's input declarations, without creating an ONNX Runtime session of the weights.
/// </summary>
internal sealed class GenAIModelFolder
{
    private const int Gpt2VocabularySize = 50257;

    private GenAIModelFolder(string directory, GptModelInfo info, GptTokenizer? tokenizer, string modelType, string? variantGraph)
    {
        VariantGraph = variantGraph;
        Directory = directory;
        Info = info;
        Tokenizer = tokenizer;
        ModelType = modelType;
    }

    /// <summary>The model folder's full path.</summary>
    public string Directory { get; }

    public GptModelInfo Info { get; }

    /// <summary>OnnxGpt's tokenizer for the folder, or null when it has none OnnxGpt reads.</summary>
    public GptTokenizer? Tokenizer { get; }

    /// <summary>genai_config.json's model.type (decoder, llama, phi3, ...).</summary>
    public string ModelType { get; }

    /// <summary>
    /// With <see cref="Generation.GptOptions.Variant"/>, the variant's graph relative to <see cref="Directory"/>, to put in
    /// genai_config.json's <c>model.decoder.filename</c>; null runs the graph the configuration names.
    /// </summary>
    public string? VariantGraph { get; }

    /// <summary>Whether the folder has a <c>tokenizer.json</c> (onnxruntime-genai's own tokenizer and guidance need it).</summary>
    public bool HasTokenizerJson => File.Exists(Path.Combine(Directory, "tokenizer.json"));

    public static GenAIModelFolder Read(string modelPath, string? variant = null)
    {
        var directory = ResolveDirectory(modelPath);
        var genaiPath = Path.Combine(directory, "genai_config.json");
        if (!File.Exists(genaiPath))
        {
            throw new ModelLoadException(modelPath, "the folder has no genai_config.json, so onnxruntime-genai cannot run it. Use the OnnxGpt backend (GptOptions.Backend = OnnxGpt) for plain exports, or export the model with onnxruntime-genai's model builder.");
        }

        var config = ModelConfiguration.Read(directory);
        string modelType;
        string graphFile;
        int layers;
        string? pastKeyPattern;
        string? combinedPastPattern;
        string? positionIdsName;
        try
        {
            using var stream = File.OpenRead(genaiPath);
            using var document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            var model = document.RootElement.GetProperty("model");
            modelType = Str(model, "type") ?? "decoder";
            var decoder = model.TryGetProperty("decoder", out var d) && d.ValueKind == JsonValueKind.Object ? d : default;
            graphFile = decoder.ValueKind == JsonValueKind.Object ? Str(decoder, "filename") ?? "model.onnx" : "model.onnx";
            layers = decoder.ValueKind == JsonValueKind.Object && decoder.TryGetProperty("num_hidden_layers", out var n) && n.TryGetInt32(out var count) ? count : 0;
            var inputs = decoder.ValueKind == JsonValueKind.Object && decoder.TryGetProperty("inputs", out var i) && i.ValueKind == JsonValueKind.Object ? i : default;
            pastKeyPattern = inputs.ValueKind == JsonValueKind.Object ? Str(inputs, "past_key_names") ?? "past_key_values.%d.key" : "past_key_values.%d.key";
            combinedPastPattern = inputs.ValueKind == JsonValueKind.Object ? Str(inputs, "past_names") : null;
            positionIdsName = inputs.ValueKind == JsonValueKind.Object ? Str(inputs, "position_ids") ?? "position_ids" : "position_ids";
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(modelPath, $"genai_config.json cannot be read as onnxruntime-genai's configuration ({ex.Message}).", ex);
        }

        // A variant is resolved as the core loader resolves it (model_NAME.onnx beside the graph, or in onnx/).
        var resolved = variant is null ? null : ModelFolder.Resolve(directory, variant);
        var graphPath = resolved?.GraphPath ?? Path.Combine(directory, graphFile);
        var graphInputs = File.Exists(graphPath) ? OnnxGraphInputs.Read(graphPath) : new Dictionary<string, int>();
        var firstPast = combinedPastPattern is not null && graphInputs.ContainsKey(Layer(combinedPastPattern, 0)) ? Layer(combinedPastPattern, 0)
            : pastKeyPattern is not null && graphInputs.ContainsKey(Layer(pastKeyPattern, 0)) ? Layer(pastKeyPattern, 0)
            : graphInputs.Keys.FirstOrDefault(k => k.Contains("past", StringComparison.OrdinalIgnoreCase));
        var convention = firstPast is null && graphInputs.Count > 0 ? KvCacheConvention.None
            : combinedPastPattern is not null ? KvCacheConvention.Combined
            : KvCacheConvention.SeparateKeyValue;
        var cacheType = firstPast is not null && graphInputs.TryGetValue(firstPast, out var elementType) ? OnnxGraphInputs.ElementTypeName(elementType) : null;

        var vocabulary = config.VocabularySize
            ?? throw new ModelLoadException(modelPath, "neither genai_config.json nor config.json gives vocab_size.");
        var tokenizer = LoadTokenizer(directory, config, vocabulary);
        var info = new GptModelInfo
        {
            ModelPath = modelPath,
            GraphPath = graphPath,
            GraphFormat = $"onnxruntime-genai ({modelType})",
            Variant = resolved?.Variant,
            Variants = resolved?.Variants ?? [],
            CacheConvention = convention,
            LayerCount = convention == KvCacheConvention.None ? 0 : layers,
            AttentionHeads = config.AttentionHeads,
            KeyValueHeads = config.KeyValueHeads ?? config.AttentionHeads ?? 0,
            HeadSize = config.HeadSize ?? 0,
            CacheElementType = cacheType ?? "float32",
            ContextLength = config.ContextLength ?? int.MaxValue,
            VocabularySize = vocabulary,
            BosTokenId = config.BosTokenId,
            EosTokenIds = config.EosTokenIds,
            PadTokenId = config.PadTokenId,
            HasPositionIds = graphInputs.Count > 0 ? positionIdsName is not null && graphInputs.ContainsKey(positionIdsName) : positionIdsName is not null,
            TokenizerKind = tokenizer?.Kind ?? (File.Exists(Path.Combine(directory, "tokenizer.json")) ? "onnxruntime-genai (tokenizer.json)" : null),
            Defaults = config.Defaults,
        };

        return new GenAIModelFolder(directory, info, tokenizer, modelType, resolved is null ? null : Path.GetRelativePath(directory, resolved.GraphPath).Replace('\\', '/'));
    }

    /// <summary>Resolves the model path as the core loader does (<see cref="ModelFolder.ResolvePath"/>): a graph file means the folder of its configuration.</summary>
    private static string ResolveDirectory(string modelPath)
    {
        var full = ModelFolder.ResolvePath(modelPath);
        return File.Exists(full) || System.IO.Directory.Exists(full)
            ? ModelFolder.ConfigurationDirectory(full)
            : throw new ModelLoadException(modelPath, $"no such folder (looked at '{full}'). Check GptOptions.ModelPath.");
    }

    /// <summary>OnnxGpt's tokenizer, chosen as the core loader chooses it, so that text prompts give the same ids.</summary>
    private static GptTokenizer? LoadTokenizer(string directory, ModelConfiguration config, int vocabulary)
    {
        var hasBpe = File.Exists(Path.Combine(directory, "vocab.json")) && File.Exists(Path.Combine(directory, "merges.txt"));
        var hasSentencePiece = File.Exists(Path.Combine(directory, "tokenizer.model"));

        // GPT-2's built-in vocabulary fits only GPT-2's 50257 tokens (as the core loader decides).
        var builtIn = string.Equals(config.ModelType, "gpt2", StringComparison.OrdinalIgnoreCase) && vocabulary == Gpt2VocabularySize;
        if (!hasBpe && !hasSentencePiece && !builtIn)
        {
            return null;
        }

        var addBos = config.AddBosToken ?? (!hasBpe && hasSentencePiece);
        return GptTokenizer.Load(directory, new TokenizerSettings(config.ModelType, config.BosTokenId, addBos));
    }

    private static string Layer(string pattern, int layer) => pattern.Replace("%d", layer.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
