namespace OnnxGpt.Sampling;

/// <summary>
/// One stage of the sampling pipeline: it rewrites the scores of the next token in place, the way a Hugging Face
/// logits processor does. A stage removes a token by setting its score to <see cref="float.NegativeInfinity"/>.
/// Implement it to add a custom stage; it runs once per generated token, so it should not allocate.
/// </summary>
public interface ISamplingStage
{
    /// <summary>Rewrites the scores of the next token.</summary>
    /// <param name="logits">The scores of every token of the vocabulary, modified in place.</param>
    /// <param name="tokenIds">The sequence so far: the prompt followed by the tokens generated.</param>
    void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds);
}
