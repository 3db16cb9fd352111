using System.Globalization;
using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation;
using OnnxGpt.Models;

namespace OnnxGpt.GenAI;

/// <summary>
/// Maps <see cref="GenerationOptions"/> onto onnxruntime-genai's search options, and refuses the settings it has no
/// equivalent for (rather than dropping them).
/// </summary>
internal static class GenAISearchOptions
{
    /// <summary>
    /// Each setting onnxruntime-genai cannot honour that is set to a value that would change the output
    /// (a neutral value, such as MinP 0, is accepted).
    /// </summary>
    public static IEnumerable<(string Setting, string Value)> Unsupported(GenerationOptions options)
    {
        if (options.MinP is { } minP && minP > 0f)
        {
            yield return (nameof(GenerationOptions.MinP), Number(minP));
        }

        if (options.TypicalP is { } typicalP && typicalP < 1f)
        {
            yield return (nameof(GenerationOptions.TypicalP), Number(typicalP));
        }

        if (options.FrequencyPenalty is { } frequency && frequency != 0f)
        {
            yield return (nameof(GenerationOptions.FrequencyPenalty), Number(frequency));
        }

        if (options.PresencePenalty is { } presence && presence != 0f)
        {
            yield return (nameof(GenerationOptions.PresencePenalty), Number(presence));
        }

        if (options.LogitBias is { Count: > 0 } bias)
        {
            yield return (nameof(GenerationOptions.LogitBias), $"set for {bias.Count} tokens");
        }

        if (options.BannedTokenSequences is { Count: > 0 } banned)
        {
            yield return (nameof(GenerationOptions.BannedTokenSequences), $"set ({banned.Count} sequences)");
        }

        if (options.CustomStages is { Count: > 0 } stages)
        {
            yield return (nameof(GenerationOptions.CustomStages), $"set ({stages.Count} stages)");
        }

        if (options.TopLogprobs is { } topLogprobs)
        {
            yield return (nameof(GenerationOptions.TopLogprobs), topLogprobs.ToString(CultureInfo.InvariantCulture));
        }

        if (options.PromptLookupTokens is { } lookup && lookup > 0)
        {
            yield return (nameof(GenerationOptions.PromptLookupTokens), lookup.ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The model's shipped defaults that have no onnxruntime-genai equivalent.</summary>
    public static IEnumerable<(string Setting, string Value)> Unsupported(GenerationDefaults defaults)
    {
        if (defaults.MinP is { } minP && minP > 0f)
        {
            yield return (nameof(GenerationDefaults.MinP), Number(minP));
        }
    }

    /// <summary>Throws for the first setting the GenAI backend cannot honour.</summary>
    /// <param name="options">The settings, or null.</param>
    /// <param name="where">Where the settings come from, for the message (e.g. "GenerationOptions").</param>
    /// <exception cref="ArgumentException">A setting has no onnxruntime-genai equivalent; <see cref="ArgumentException.ParamName"/> is its name.</exception>
    public static void ThrowIfUnsupported(GenerationOptions? options, string where)
    {
        if (options is null)
        {
            return;
        }

        foreach (var (setting, value) in Unsupported(options))
        {
            throw new ArgumentException(
                $"{where}.{setting} is {value}, but onnxruntime-genai has no {Describe(setting)}, so the GenAI backend cannot honour it. Leave {setting} unset, or use the OnnxGpt backend (GptOptions.Backend = OnnxGpt).",
                setting);
        }
    }

    /// <summary>Sets the search options of one request from fully resolved settings.</summary>
    /// <param name="parameters">The request's generator parameters.</param>
    /// <param name="settings">The request's settings, defaults filled in.</param>
    /// <param name="promptLength">Prompt tokens.</param>
    /// <param name="maxNewTokens">The most tokens to generate.</param>
    public static void Apply(GeneratorParams parameters, GenerationOptions settings, int promptLength, int maxNewTokens) =>
        GenAISearchSettings.From(settings, promptLength, promptLength + maxNewTokens).Apply(parameters);

    private static string Describe(string setting) => setting switch
    {
        nameof(GenerationOptions.MinP) => "min-p sampling",
        nameof(GenerationOptions.TypicalP) => "typical-p sampling",
        nameof(GenerationOptions.FrequencyPenalty) => "frequency penalty",
        nameof(GenerationOptions.PresencePenalty) => "presence penalty",
        nameof(GenerationOptions.LogitBias) => "logit bias",
        nameof(GenerationOptions.BannedTokenSequences) => "banned token sequences",
        nameof(GenerationOptions.CustomStages) => "way to run OnnxGpt's custom sampling stages",
        nameof(GenerationOptions.TopLogprobs) => "top log-probabilities",
        nameof(GenerationOptions.PromptLookupTokens) => "prompt-lookup speculative decoding",
        _ => $"equivalent of {setting}",
    };

    private static string Number(float value) => value.ToString(CultureInfo.InvariantCulture);
}
