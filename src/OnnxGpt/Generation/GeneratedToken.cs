namespace OnnxGpt.Generation;

/// <summary>One generated token, as streamed by <see cref="IGptGenerator.StreamAsync"/>.</summary>
public sealed class GeneratedToken
{
    /// <summary>Creates a token.</summary>
    /// <param name="id">The token id.</param>
    /// <param name="text">The text released with this token.</param>
    /// <param name="index">Its position among the generated tokens, from 0.</param>
    /// <param name="result">The whole result, on the final token only.</param>
    public GeneratedToken(int id, string text, int index, GenerationResult? result = null)
    {
        Id = id;
        Text = text;
        Index = index;
        Result = result;
    }

    /// <summary>The token id.</summary>
    public int Id { get; }

    /// <summary>
    /// The text this token releases. It can be empty: a token ending in the middle of a UTF-8 character, or text that
    /// might be the start of a stop sequence, is held back and released with a later token. Concatenated, the texts
    /// of all tokens equal <see cref="GenerationResult.Text"/>.
    /// </summary>
    public string Text { get; }

    /// <summary>The token's position among the generated tokens, from 0.</summary>
    public int Index { get; }

    /// <summary>The finish reason, on the final token; null before it.</summary>
    public FinishReason? FinishReason => Result?.FinishReason;

    /// <summary>The whole result (text, ids, finish reason, usage and timings), on the final token; null before it.</summary>
    public GenerationResult? Result { get; }
}
