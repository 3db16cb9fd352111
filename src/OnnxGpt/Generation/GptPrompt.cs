namespace OnnxGpt.Generation;

/// <summary>A prompt: text for the model's tokenizer, or token ids fed as they are. A string converts implicitly.</summary>
public sealed class GptPrompt
{
    private GptPrompt(string? text, IReadOnlyList<int>? tokenIds, bool addSpecialTokens = true)
    {
        Text = text;
        TokenIds = tokenIds;
        AddSpecialTokens = addSpecialTokens;
    }

    /// <summary>The prompt's text, or null for a prompt of token ids.</summary>
    public string? Text { get; }

    /// <summary>The prompt's token ids, or null for a text prompt.</summary>
    public IReadOnlyList<int>? TokenIds { get; }

    /// <summary>
    /// Whether the tokenizer adds its special tokens (bos) to <see cref="Text"/>: true for plain text, false for text
    /// a chat template rendered, which holds its special tokens already.
    /// </summary>
    public bool AddSpecialTokens { get; }

    /// <summary>A text prompt, encoded by the model's tokenizer (which adds bos where the model expects it).</summary>
    /// <param name="text">The text.</param>
    /// <returns>The prompt.</returns>
    public static GptPrompt FromText(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new GptPrompt(text, null);
    }

    /// <summary>A text prompt, encoded with or without the tokenizer's special tokens.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">False for text that holds its special tokens already, such as a rendered chat template.</param>
    /// <returns>The prompt.</returns>
    public static GptPrompt FromText(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new GptPrompt(text, null, addSpecialTokens);
    }

    /// <summary>A prompt of token ids, fed as they are (no bos is added).</summary>
    /// <param name="tokenIds">The ids.</param>
    /// <returns>The prompt.</returns>
    public static GptPrompt FromTokenIds(IEnumerable<int> tokenIds)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        return new GptPrompt(null, [.. tokenIds]);
    }

    /// <summary>Converts text to a prompt (see <see cref="FromText(string)"/>).</summary>
    /// <param name="text">The text.</param>
    public static implicit operator GptPrompt(string text) => FromText(text);

    /// <inheritdoc />
    public override string ToString() => Text ?? $"[{string.Join(", ", TokenIds!)}]";
}
