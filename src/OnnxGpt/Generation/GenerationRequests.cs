using OnnxGpt.Models;

namespace OnnxGpt.Generation;

/// <summary>How every backend resolves and checks a request before any work: one set of rules for <see cref="GptGenerator"/> and <see cref="Decoding.DecoderGenerator"/>.</summary>
internal static class GenerationRequests
{
    /// <summary>The request's settings over the application's defaults over the model's, checked (ranges, token ids in the vocabulary).</summary>
    public static GenerationOptions Resolve(GenerationOptions? request, GenerationOptions applicationDefaults, GenerationOptions modelDefaults, int vocabulary)
    {
        request?.Validate();
        var settings = (request ?? new GenerationOptions()).WithDefaults(applicationDefaults).WithDefaults(modelDefaults);
        CheckVocabulary(settings, vocabulary);
        return settings;
    }

    /// <summary>The prompt's ids (bos for an empty one), checked against the vocabulary and the context (one position must stay free).</summary>
    public static IReadOnlyList<int> PreparePrompt(GptPrompt prompt, GptModelInfo info, Func<string, bool, IReadOnlyList<int>> encode)
    {
        var ids = prompt.TokenIds ?? encode(prompt.Text!, prompt.AddSpecialTokens);
        if (ids.Count == 0)
        {
            ids = info.BosTokenId is { } bos
                ? [bos]
                : throw new ArgumentException("The prompt is empty and the model has no bos token to start from; give at least one token.", nameof(prompt));
        }

        var vocabulary = info.VocabularySize;
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)vocabulary)
            {
                throw new ArgumentOutOfRangeException(nameof(prompt), id, $"Prompt token id {id} is outside the model's vocabulary (0..{vocabulary - 1}).");
            }
        }

        return ids.Count < info.ContextLength ? ids : throw new PromptTooLongException(ids.Count, info.ContextLength);
    }

    /// <summary>Token ids in the settings must be in the model's vocabulary.</summary>
    private static void CheckVocabulary(GenerationOptions settings, int vocabulary)
    {
        string setting;
        if (settings.LogitBias is { } bias)
        {
            foreach (var id in bias.Keys)
            {
                if (id >= vocabulary)
                {
                    setting = nameof(GenerationOptions.LogitBias);
                    throw new ArgumentOutOfRangeException(setting, id, $"LogitBias token id {id} is outside the model's vocabulary (0..{vocabulary - 1}).");
                }
            }
        }

        if (settings.BannedTokenSequences is { } banned)
        {
            foreach (var sequence in banned)
            {
                foreach (var id in sequence)
                {
                    if (id >= vocabulary)
                    {
                        setting = nameof(GenerationOptions.BannedTokenSequences);
                        throw new ArgumentOutOfRangeException(setting, id, $"BannedTokenSequences token id {id} is outside the model's vocabulary (0..{vocabulary - 1}).");
                    }
                }
            }
        }
    }
}
