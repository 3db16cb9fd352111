namespace OnnxGpt.Models;

/// <summary>What the loader found: the graph's layout, the model's limits and its special tokens.</summary>
public sealed class GptModelInfo
{
    /// <summary>The folder or file the model was loaded from, as given.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The full path of the ONNX graph that runs.</summary>
    public required string GraphPath { get; init; }

    /// <summary>
    /// How the export is packaged: <c>single graph</c>, <c>merged decoder (use_cache_branch)</c>, or
    /// <c>split decoder (decoder_model.onnx + decoder_with_past_model.onnx)</c>.
    /// </summary>
    public required string GraphFormat { get; init; }

    /// <summary>
    /// The graph variant that runs: <c>fp32</c> for <c>model.onnx</c>, else the suffix of <c>model_NAME.onnx</c>
    /// (see <see cref="ModelFolder"/>); null when not known.
    /// </summary>
    public string? Variant { get; init; }

    /// <summary>Every graph variant found beside the one that runs (see <see cref="ModelFolder.Variants"/>).</summary>
    public IReadOnlyList<string> Variants { get; init; } = [];

    /// <summary>The graph that runs the prompt in a split export (<c>decoder_model.onnx</c>); null otherwise.</summary>
    public string? PrefillGraphPath { get; init; }

    /// <summary>The passes that rewrote the graph in memory at load (see <see cref="Generation.GptOptions.OptimizeGraph"/>), for example <c>LogitsToKeep</c>; empty when it runs as stored.</summary>
    public IReadOnlyList<string> GraphRewrites { get; init; } = [];

    /// <summary>How the graph passes the cache from one step to the next.</summary>
    public required KvCacheConvention CacheConvention { get; init; }

    /// <summary>Number of transformer layers with a cache (0 without a cache).</summary>
    public required int LayerCount { get; init; }

    /// <summary>Number of attention heads, from config.json (null when it does not say).</summary>
    public int? AttentionHeads { get; init; }

    /// <summary>Number of key/value heads in the cache (fewer than <see cref="AttentionHeads"/> with grouped-query attention).</summary>
    public required int KeyValueHeads { get; init; }

    /// <summary>Size of one attention head.</summary>
    public required int HeadSize { get; init; }

    /// <summary>Element type of the cache tensors (<c>float32</c> or <c>float16</c>).</summary>
    public required string CacheElementType { get; init; }

    /// <summary>Maximum number of positions (prompt plus generated tokens) the model accepts.</summary>
    public required int ContextLength { get; init; }

    /// <summary>Number of scores per position in the logits.</summary>
    public required int VocabularySize { get; init; }

    /// <summary>The beginning-of-sequence token, if the model has one.</summary>
    public int? BosTokenId { get; init; }

    /// <summary>Tokens that end generation.</summary>
    public required IReadOnlyList<int> EosTokenIds { get; init; }

    /// <summary>The padding token, if the model names one.</summary>
    public int? PadTokenId { get; init; }

    /// <summary>Whether the graph takes <c>position_ids</c> (otherwise it derives positions itself).</summary>
    public required bool HasPositionIds { get; init; }

    /// <summary>A short description of the tokenizer, or null when the model has none (prompts must then be token ids).</summary>
    public string? TokenizerKind { get; init; }

    /// <summary>The generation settings the model ships.</summary>
    public required GenerationDefaults Defaults { get; init; }
}
