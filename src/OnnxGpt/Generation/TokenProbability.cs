namespace OnnxGpt.Generation;

/// <summary>A candidate next token with its probability, from <see cref="NextTokenDistribution.GetTop"/>.</summary>
/// <param name="Id">The token id.</param>
/// <param name="Text">The token's text, decoded on its own (empty when the model has no tokenizer).</param>
/// <param name="Probability">Its probability after the sampling stages.</param>
/// <param name="Logprob">The natural log of <paramref name="Probability"/>, computed in double precision.</param>
public sealed record TokenProbability(int Id, string Text, float Probability, float Logprob);
