using OnnxGpt.Sampling;

namespace OnnxGpt.Generation;

/// <summary>
/// Builds a request's <see cref="TokenSampler"/> from its resolved <see cref="GenerationOptions"/>: the generation
/// side knows the options, the sampler only its stages, so the dependency points from the loop to the sampler.
/// </summary>
internal static class TokenSamplerFactory
{
    extension(TokenSampler)
    {
        /// <summary>Whether fully resolved options sample (true) or pick greedily (false).</summary>
        public static bool Samples(GenerationOptions options) => options.DoSample == true && options.Temperature != 0f;

        /// <summary>Builds the sampler for fully resolved options.</summary>
        /// <param name="options">The resolved options.</param>
        /// <param name="promptTokenCount">How many ids of the sequence are the prompt (for the penalties on generated tokens and the minimum of new tokens).</param>
        /// <param name="eosTokenIds">The model's end-of-sequence ids (for the minimum of new tokens).</param>
        public static TokenSampler Create(GenerationOptions options, int promptTokenCount = 0, IReadOnlyList<int>? eosTokenIds = null)
        {
            var sample = TokenSampler.Samples(options);
            return new TokenSampler(TokenSampler.BuildStages(options, promptTokenCount, eosTokenIds, sample), sample ? (options.Seed is { } seed ? new Random(seed) : new Random()) : null);
        }

        /// <summary>The stages for fully resolved options, in the order they run.</summary>
        public static ISamplingStage[] BuildStages(GenerationOptions options, int promptTokenCount, IReadOnlyList<int>? eosTokenIds, bool sample)
        {
            var stages = new List<ISamplingStage>();

            // The processors: they run whether or not the model samples.
            if (options.RepetitionPenalty is { } penalty && penalty != 1f)
            {
                stages.Add(new RepetitionPenaltyStage(penalty));
            }

            var frequency = options.FrequencyPenalty ?? 0f;
            var presence = options.PresencePenalty ?? 0f;
            if (frequency != 0f || presence != 0f)
            {
                stages.Add(new FrequencyPresencePenaltyStage(frequency, presence, promptTokenCount));
            }

            if (options.NoRepeatNGramSize is > 0)
            {
                stages.Add(new NoRepeatNGramStage(options.NoRepeatNGramSize.Value));
            }

            if (options.BannedTokenSequences is { Count: > 0 } banned)
            {
                stages.Add(new BannedSequencesStage(banned));
            }

            if (options.MinNewTokens is > 0 && eosTokenIds is { Count: > 0 })
            {
                stages.Add(new MinNewTokensStage(options.MinNewTokens.Value, promptTokenCount, eosTokenIds));
            }

            if (options.LogitBias is { Count: > 0 } bias)
            {
                stages.Add(new LogitBiasStage(bias));
            }

            if (options.CustomStages is { } custom)
            {
                // Built-in stages keep scratch: each request gets its own copy of one placed in shared options.
                foreach (var stage in custom)
                {
                    stages.Add(stage is IRequestScopedStage scoped ? scoped.ForRequest() : stage);
                }
            }

            if (!sample)
            {
                // Hugging Face applies no warpers when it does not sample: they cannot change the most likely token.
                return [.. stages];
            }

            if (options.Temperature is { } t && t != 1f)
            {
                stages.Add(new TemperatureStage(t));
            }

            if (options.TopK is > 0)
            {
                stages.Add(new TopKStage(options.TopK.Value));
            }

            if (options.TopP is { } p && p < 1f)
            {
                stages.Add(new TopPStage(p));
            }

            if (options.MinP is { } m && m > 0f)
            {
                stages.Add(new MinPStage(m));
            }

            if (options.TypicalP is { } typical && typical < 1f)
            {
                stages.Add(new TypicalPStage(typical));
            }

            return [.. stages];
        }
    }
}
