using OnnxGpt.Sampling;

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

    /// <summary>
    /// The natural log of the token's probability under the final distribution it was chosen from: after every sampling
    /// stage when sampling; when greedy, under the processed but unwarped distribution (penalties, n-gram blocking, banned
    /// sequences, minimum new tokens, logit bias and custom stages applied; temperature, top-k, top-p, min-p, typical-p
    /// not). Null when the generator does not compute it (<see cref="GptGenerator"/> always does).
    /// </summary>
    public float? Logprob { get; init; }

    /// <summary>
    /// The most likely tokens of the same distribution with their log-probabilities, most likely first (ties: lower id
    /// first), when <see cref="GenerationOptions.TopLogprobs"/> asks for them; null otherwise. Tokens the stages removed
    /// never appear, so the list can be shorter than asked.
    /// </summary>
    public IReadOnlyList<TokenLogprob>? TopLogprobs { get; init; }

    /// <summary>The finish reason, on the final token; null before it.</summary>
    public FinishReason? FinishReason => Result?.FinishReason;

    /// <summary>The whole result (text, ids, finish reason, usage and timings), on the final token; null before it.</summary>
    public GenerationResult? Result { get; }
}
