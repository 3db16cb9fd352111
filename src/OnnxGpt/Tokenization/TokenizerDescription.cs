namespace OnnxGpt.Tokenization;

/// <summary>
/// What a tokenizer is made of, as <c>onnxgpt inspect</c> shows it: for a <c>tokenizer.json</c>, its model, normalizer,
/// pre-tokenizer, post-processor and decoder, and how many added tokens it has.
/// </summary>
public sealed class TokenizerDescription
{
    /// <summary>The model, for example "BPE (byte-level, ignore_merges)" or "BPE (byte_fallback, unk '&lt;unk&gt;')".</summary>
    public required string Model { get; init; }

    /// <summary>The normalizer ("none" when there is none).</summary>
    public required string Normalizer { get; init; }

    /// <summary>The pre-tokenizer ("none" when there is none).</summary>
    public required string PreTokenizer { get; init; }

    /// <summary>The post-processor: which special tokens <c>Encode(text)</c> adds ("none" when there is none).</summary>
    public required string PostProcessor { get; init; }

    /// <summary>The decoder ("none" when there is none).</summary>
    public required string Decoder { get; init; }

    /// <summary>How many added tokens (special or not) are matched in text before the model runs.</summary>
    public required int AddedTokenCount { get; init; }

    /// <summary>The number of token ids, added tokens included (the largest id + 1); null when not known.</summary>
    public int? VocabularySize { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"model {Model}; normalizer {Normalizer}; pre-tokenizer {PreTokenizer}; post-processor {PostProcessor}; decoder {Decoder}; {AddedTokenCount} added tokens";
}
