using System.Text.Json;

namespace OnnxGpt.Models;

/// <summary>
/// What <c>config.json</c>, <c>generation_config.json</c>, <c>genai_config.json</c> and
/// <c>tokenizer_config.json</c> beside a graph say. Every file is optional; a file that exists
/// but cannot be parsed is an error naming it.
/// </summary>
internal sealed class ModelConfiguration
{
    public string? ModelType { get; private set; }

    public int? ContextLength { get; private set; }

    public int? VocabularySize { get; private set; }

    public int? BosTokenId { get; private set; }

    public IReadOnlyList<int> EosTokenIds { get; private set; } = [];

    public int? PadTokenId { get; private set; }

    public int? AttentionHeads { get; private set; }

    public int? KeyValueHeads { get; private set; }

    public int? HeadSize { get; private set; }

    public int? HiddenSize { get; private set; }

    public bool? AddBosToken { get; private set; }

    /// <summary>
    /// The position id of a sequence's first token: 1 for Gemma 3, which transformers.js (like transformers' Gemma 3
    /// multimodal class, and onnx-community's Gemma 3 examples) numbers from 1; 0 for every other model.
    /// </summary>
    public int FirstPositionId => ModelType is "gemma3" or "gemma3_text" ? 1 : 0;

    /// <summary>Generation settings the model ships (generation_config.json, else genai_config.json's search section).</summary>
    public GenerationDefaults Defaults { get; private set; } = GenerationDefaults.None;

    /// <summary>Settings found out of range and ignored, as sentences for the log.</summary>
    public List<string> Warnings { get; } = [];

    public static ModelConfiguration Read(string directory)
    {
        var result = new ModelConfiguration();
        result.ReadFiles(directory);
        result.Sanitize();
        return result;
    }

    private void Sanitize()
    {
        int? Positive(int? value, string name)
        {
            if (value is <= 0)
            {
                Warnings.Add($"{name} is {value}; it must be positive, so it is ignored");
                return null;
            }

            return value;
        }

        int? Id(int? value, string name)
        {
            if (value is < 0)
            {
                Warnings.Add($"{name} is {value}; token ids cannot be negative, so it is ignored");
                return null;
            }

            return value;
        }

        ContextLength = Positive(ContextLength, "the context length");
        VocabularySize = Positive(VocabularySize, "vocab_size");
        KeyValueHeads = Positive(KeyValueHeads, "num_key_value_heads");
        HeadSize = Positive(HeadSize, "head_dim");
        AttentionHeads = Positive(AttentionHeads, "num_attention_heads");
        BosTokenId = Id(BosTokenId, "bos_token_id");
        PadTokenId = Id(PadTokenId, "pad_token_id");
        if (EosTokenIds.Any(id => id < 0))
        {
            Warnings.Add("eos_token_id has negative ids; they are ignored");
            EosTokenIds = [.. EosTokenIds.Where(id => id >= 0)];
        }

        var d = Defaults;
        float? Range(float? value, string name, float min, float max, bool minExclusive)
        {
            if (value is { } v && (float.IsNaN(v) || v > max || v < min || (minExclusive && v == min)))
            {
                Warnings.Add($"generation setting {name} is {v}, outside its range, so it is ignored");
                return null;
            }

            return value;
        }

        Defaults = d with
        {
            Temperature = Range(d.Temperature, "temperature", 0, float.MaxValue, false),
            TopK = d.TopK is < 0 ? null : d.TopK,
            TopP = Range(d.TopP, "top_p", 0, 1, true),
            MinP = Range(d.MinP, "min_p", 0, 1, false),
            RepetitionPenalty = Range(d.RepetitionPenalty, "repetition_penalty", 0, float.MaxValue, true),
            MaxLength = Positive(d.MaxLength, "max_length"),
            MaxNewTokens = Positive(d.MaxNewTokens, "max_new_tokens"),
        };
        if (d.TopK is < 0)
        {
            Warnings.Add($"generation setting top_k is {d.TopK}, outside its range, so it is ignored");
        }
    }

    private void ReadFiles(string directory)
    {
        var result = this;
        using (var genai = Open(directory, "genai_config.json"))
        {
            if (genai is not null && genai.RootElement.TryGetProperty("model", out var model) && model.ValueKind == JsonValueKind.Object)
            {
                result.ContextLength = Int(model, "context_length");
                result.VocabularySize = Int(model, "vocab_size");
                result.BosTokenId = Int(model, "bos_token_id");
                result.PadTokenId = Int(model, "pad_token_id");
                result.EosTokenIds = IntList(model, "eos_token_id") ?? [];
                if (model.TryGetProperty("decoder", out var decoder) && decoder.ValueKind == JsonValueKind.Object)
                {
                    result.HeadSize = Int(decoder, "head_size");
                    result.HiddenSize = Int(decoder, "hidden_size");
                    result.AttentionHeads = Int(decoder, "num_attention_heads");
                    result.KeyValueHeads = Int(decoder, "num_key_value_heads");
                }

                if (genai.RootElement.TryGetProperty("search", out var search) && search.ValueKind == JsonValueKind.Object)
                {
                    result.Defaults = ReadDefaults(search);
                }
            }
        }

        using (var config = Open(directory, "config.json"))
        {
            if (config is not null)
            {
                var root = config.RootElement;
                result.ModelType = Str(root, "model_type") ?? result.ModelType;
                result.ContextLength = Int(root, "max_position_embeddings") ?? Int(root, "n_positions") ?? Int(root, "n_ctx") ?? result.ContextLength;
                result.VocabularySize = Int(root, "vocab_size") ?? result.VocabularySize;
                result.BosTokenId = Int(root, "bos_token_id") ?? result.BosTokenId;
                result.PadTokenId = Int(root, "pad_token_id") ?? result.PadTokenId;
                result.EosTokenIds = IntList(root, "eos_token_id") ?? result.EosTokenIds;
                result.AttentionHeads = Int(root, "num_attention_heads") ?? Int(root, "n_head") ?? result.AttentionHeads;
                result.KeyValueHeads = Int(root, "num_key_value_heads") ?? result.KeyValueHeads ?? result.AttentionHeads;
                result.HiddenSize = Int(root, "hidden_size") ?? Int(root, "n_embd") ?? result.HiddenSize;
                result.HeadSize = Int(root, "head_dim") ?? result.HeadSize
                    ?? (result.HiddenSize / result.AttentionHeads);
            }
        }

        using (var generation = Open(directory, "generation_config.json"))
        {
            if (generation is not null)
            {
                var root = generation.RootElement;
                result.BosTokenId = Int(root, "bos_token_id") ?? result.BosTokenId;
                result.PadTokenId = Int(root, "pad_token_id") ?? result.PadTokenId;
                result.EosTokenIds = IntList(root, "eos_token_id") ?? result.EosTokenIds;
                result.Defaults = ReadDefaults(root);
            }
        }

        using (var tokenizer = Open(directory, "tokenizer_config.json"))
        {
            if (tokenizer is not null)
            {
                var root = tokenizer.RootElement;
                result.AddBosToken = Bool(root, "add_bos_token");
            }
        }
    }

    private static GenerationDefaults ReadDefaults(JsonElement e) => new()
    {
        DoSample = Bool(e, "do_sample"),
        Temperature = Float(e, "temperature"),
        TopK = Int(e, "top_k"),
        TopP = Float(e, "top_p"),
        MinP = Float(e, "min_p"),
        RepetitionPenalty = Float(e, "repetition_penalty"),
        MaxLength = Int(e, "max_length"),
        MaxNewTokens = Int(e, "max_new_tokens"),
    };

    private static JsonDocument? Open(string directory, string fileName)
    {
        var path = Path.Combine(directory, fileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            using var stream = File.OpenRead(path);
            var document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                document.Dispose();
                throw new ModelLoadException(directory, $"{fileName} is not a JSON object. Fix or remove the file.");
            }

            return document;
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(directory, $"{fileName} is not valid JSON ({ex.Message}). Fix or remove the file.", ex);
        }
        catch (IOException ex)
        {
            throw new ModelLoadException(directory, $"{fileName} cannot be read ({ex.Message}).", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new ModelLoadException(directory, $"{fileName} cannot be read ({ex.Message}).", ex);
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static int? Int(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;

    private static float? Float(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) ? (float)d : null;

    private static bool? Bool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;

    private static List<int>? IntList(JsonElement e, string name)
    {
        if (!e.TryGetProperty(name, out var v))
        {
            return null;
        }

        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var single))
        {
            return [single];
        }

        if (v.ValueKind == JsonValueKind.Array)
        {
            return [.. v.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out _)).Select(x => x.GetInt32())];
        }

        return null;
    }
}
