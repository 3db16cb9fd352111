namespace OnnxGpt.Generation;

/// <summary>A token of one row of a batched generation (<see cref="GptGenerator.StreamBatchAsync"/>).</summary>
/// <param name="Row">The row: the index of its prompt.</param>
/// <param name="Token">The token; its <see cref="GeneratedToken.Result"/> is set on the row's final token.</param>
public sealed record BatchToken(int Row, GeneratedToken Token);
