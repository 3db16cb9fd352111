using OnnxGpt.Models;

namespace OnnxGpt.Generation;

/// <summary>
/// A model's <see cref="GenerationDefaults"/> as request settings: the model folder only reads what the model ships,
/// the generation side turns it into <see cref="GenerationOptions"/>.
/// </summary>
internal static class GenerationDefaultsExtensions
{
    extension(GenerationDefaults defaults)
    {
        /// <summary>These defaults as request settings, for filling what a request and the application leave null.</summary>
        public GenerationOptions ToOptions() => new()
        {
            DoSample = defaults.DoSample,
            Temperature = defaults.Temperature,
            TopK = defaults.TopK,
            TopP = defaults.TopP,
            MinP = defaults.MinP,
            RepetitionPenalty = defaults.RepetitionPenalty,
            MaxNewTokens = defaults.MaxNewTokens,
        };

        /// <summary>
        /// How many tokens a request may generate: its own MaxNewTokens, else the model's max_new_tokens, else its
        /// max_length minus the prompt, else up to the context; never past the context, and at least one.
        /// </summary>
        public static int MaxNewTokensFor(GptModelInfo info, GenerationOptions settings, int promptLength)
        {
            var room = info.ContextLength - promptLength;
            var wanted = settings.MaxNewTokens
                ?? (info.Defaults.MaxLength is { } maxLength && maxLength > promptLength ? maxLength - promptLength : room);
            return Math.Max(1, Math.Min(wanted, room));
        }
    }
}
