namespace OnnxGpt.Evaluation;

/// <summary>What <see cref="Perplexity.ComputeAsync"/> measured.</summary>
/// <param name="Tokens">The tokens scored (every window's tokens but its first).</param>
/// <param name="Windows">The windows the ids were cut into.</param>
/// <param name="MeanNegativeLogLikelihood">The mean negative log-likelihood per scored token, in nats.</param>
/// <param name="Value">exp(mean NLL).</param>
public sealed record PerplexityResult(int Tokens, int Windows, double MeanNegativeLogLikelihood, double Value);
