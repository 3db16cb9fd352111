using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation;

namespace OnnxGpt.GenAI;

/// <summary>
/// The search options an onnxruntime-genai generator is created with (they cannot change afterwards), resolved from
/// one request's settings. Comparing two tells whether a kept generator can serve a later turn of its conversation.
/// </summary>
/// <param name="MaxLength">max_length: the most tokens the sequence may hold, prompt included.</param>
/// <param name="DoSample">do_sample.</param>
/// <param name="RepetitionPenalty">repetition_penalty.</param>
/// <param name="NoRepeatNGramSize">no_repeat_ngram_size.</param>
/// <param name="MinLength">min_length, prompt included (0: none).</param>
/// <param name="Temperature">temperature (set only when sampling).</param>
/// <param name="TopK">top_k (set only when sampling; 0: off).</param>
/// <param name="TopP">top_p (set only when sampling; 1: off).</param>
/// <param name="RandomSeed">random_seed (set only when sampling with a seed).</param>
internal sealed record GenAISearchSettings(
    int MaxLength,
    bool DoSample,
    float RepetitionPenalty,
    int NoRepeatNGramSize,
    int MinLength,
    float Temperature,
    int TopK,
    float TopP,
    int? RandomSeed)
{
    /// <summary>
    /// Whether a generator created with these settings can go on with a later turn: not when it samples with a seed
    /// (its random generator would not restart from the seed, so the turn would differ from a fresh request with that
    /// seed), nor with a minimum length (min_length counts the prompt, so it differs between turns).
    /// </summary>
    public bool IsResumable => !(DoSample && RandomSeed is not null) && MinLength == 0;

    /// <summary>Resolves the search options of one request.</summary>
    /// <param name="settings">The request's settings, defaults filled in.</param>
    /// <param name="promptLength">Prompt tokens.</param>
    /// <param name="maxLength">max_length: prompt plus the most new tokens, or more (a conversation's generator is made for the whole context).</param>
    public static GenAISearchSettings From(GenerationOptions settings, int promptLength, int maxLength)
    {
        // As the core backend: greedy unless DoSample is true and the temperature is not 0.
        var sample = settings.DoSample == true && settings.Temperature != 0f;
        return new GenAISearchSettings(
            maxLength,
            sample,
            settings.RepetitionPenalty ?? 1f,
            settings.NoRepeatNGramSize ?? 0,
            // min_length counts the prompt too; onnxruntime-genai removes the end-of-sequence tokens until it is reached.
            settings.MinNewTokens is > 0 ? promptLength + settings.MinNewTokens.Value : 0,
            sample ? settings.Temperature ?? 1f : 1f,
            // onnxruntime-genai: top_k 0 and top_p 1 switch each filter off (its own defaults differ, so set both).
            sample ? settings.TopK ?? 0 : 0,
            sample ? settings.TopP ?? 1f : 1f,
            // onnxruntime-genai reads -1 as "seed from the random device": keep every seed non-negative.
            sample && settings.Seed is { } seed ? seed & int.MaxValue : null);
    }

    /// <summary>
    /// Whether a generator created with these settings can run a later request that asks for <paramref name="next"/>:
    /// every option equal, except that this max_length may be larger (the request's own loop stops at its
    /// MaxNewTokens, so a larger max_length changes nothing).
    /// </summary>
    /// <param name="next">The later request's settings.</param>
    public bool CanContinueWith(GenAISearchSettings next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return IsResumable && MaxLength >= next.MaxLength && this with { MaxLength = next.MaxLength } == next;
    }

    /// <summary>Sets these options on a generator's parameters.</summary>
    /// <param name="parameters">The parameters the generator will be created with.</param>
    public void Apply(GeneratorParams parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);

        // max_length counts the prompt, as Hugging Face's does.
        parameters.SetSearchOption("max_length", MaxLength);
        parameters.SetSearchOption("num_beams", 1);
        parameters.SetSearchOption("do_sample", DoSample);
        parameters.SetSearchOption("repetition_penalty", RepetitionPenalty);
        parameters.SetSearchOption("no_repeat_ngram_size", NoRepeatNGramSize);
        parameters.SetSearchOption("min_length", MinLength);
        if (DoSample)
        {
            parameters.SetSearchOption("temperature", Temperature);
            parameters.SetSearchOption("top_k", TopK);
            parameters.SetSearchOption("top_p", TopP);
            if (RandomSeed is { } seed)
            {
                parameters.SetSearchOption("random_seed", seed);
            }
        }
    }
}
