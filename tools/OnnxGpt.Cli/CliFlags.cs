using System.Text.RegularExpressions;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli;

/// <summary>
/// Rewrites the library's messages for a command-line user: the settings they name (<c>TopP</c>,
/// <c>GptOptions.ModelPath</c>) become the flags that set them (<c>--top-p</c>, <c>--model</c>).
/// </summary>
internal static partial class CliFlags
{
    private static readonly Dictionary<string, string> FlagOf = new(StringComparer.Ordinal)
    {
        ["ModelPath"] = "--model",
        ["Backend"] = "--backend",
        ["ExecutionProviders"] = "--execution-provider",
        ["MaxNewTokens"] = "--max-new-tokens",
        ["Temperature"] = "--temperature",
        ["DoSample"] = "--greedy",
        ["TopK"] = "--top-k",
        ["TopP"] = "--top-p",
        ["MinP"] = "--min-p",
        ["TypicalP"] = "--typical-p",
        ["RepetitionPenalty"] = "--repetition-penalty",
        ["FrequencyPenalty"] = "--frequency-penalty",
        ["PresencePenalty"] = "--presence-penalty",
        ["NoRepeatNGramSize"] = "--no-repeat-ngram-size",
        ["MinNewTokens"] = "--min-new-tokens",
        ["LogitBias"] = "--logit-bias",
        ["Seed"] = "--seed",
        ["TopLogprobs"] = "--top-logprobs",
        ["StopSequences"] = "--stop",
        ["PromptLookupTokens"] = "--prompt-lookup",
        ["DraftTokens"] = "--draft-tokens",
        ["DraftModelPath"] = "--draft-model",
        ["Variant"] = "--variant",
    };

    /// <summary><paramref name="message"/> with every setting name that has a flag replaced by the flag.</summary>
    public static string Rename(string message) => SettingName().Replace(message, match =>
        FlagOf.TryGetValue(match.Groups["name"].Value, out var flag) ? flag : match.Value);

    // An optional owning type (GptOptions.ModelPath, GenerationOptions.TopP, options.Generation.TopP), then the name.
    [GeneratedRegex(@"\b(?:(?:GptOptions|GenerationOptions|Generation|options)\.)*(?<name>[A-Z][A-Za-z]+)\b")]
    private static partial Regex SettingName();
}
