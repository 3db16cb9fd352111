namespace OnnxGpt.Constraints;

/// <summary>
/// Constrains one request's output, token by token: before each step it removes the tokens that cannot come
/// next, after it is told which token was chosen. The generation loop applies the mask before the sampler, so the
/// sampling settings still choose among the allowed tokens.
/// </summary>
internal interface ITokenConstraint
{
    /// <summary>Whether the output is complete and nothing more may follow: generation ends here.</summary>
    bool IsComplete { get; }

    /// <summary>Sets the score of every token that may not come next to negative infinity.</summary>
    /// <param name="logits">The next token's scores, one per vocabulary id.</param>
    /// <param name="remainingTokens">How many tokens may still be generated, this one included (the output must be able to close within them).</param>
    void Mask(Span<float> logits, int remainingTokens);

    /// <summary>Advances past the chosen token (one the last mask allowed).</summary>
    void Accept(int token);
}
