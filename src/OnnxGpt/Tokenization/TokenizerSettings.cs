namespace OnnxGpt.Tokenization;

/// <summary>What the model's configuration says about tokenization.</summary>
/// <param name="ModelType">The model type from config.json (for example "gpt2" or "llama"), when known.</param>
/// <param name="BosTokenId">The beginning-of-sequence token id from the configuration, when known.</param>
/// <param name="AddBosToken">Whether <see cref="GptTokenizer.Encode(string)"/> prepends the beginning-of-sequence token.</param>
public sealed record TokenizerSettings(string? ModelType, int? BosTokenId, bool AddBosToken);
