namespace OnnxGpt.Generation;

/// <summary>A token with its log-probability (an entry of OpenAI's <c>top_logprobs</c>).</summary>
/// <param name="Id">The token id.</param>
/// <param name="Text">The token's text, decoded on its own (empty when the model has no tokenizer).</param>
/// <param name="Logprob">The natural log of its probability under the distribution the token was chosen from.</param>
public sealed record TokenLogprob(int Id, string Text, float Logprob);
