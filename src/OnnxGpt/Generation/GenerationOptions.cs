namespace OnnxGpt.Generation;

/// <summary>
/// Settings for one generation request. Every setting is nullable: null means "the default", which is the
/// application's default (<see cref="Hosting.GptOptions.Generation"/>) if it sets one, else the model's own
/// (<c>generation_config.json</c>), else off.
/// </summary>
public sealed class GenerationOptions
{
    /// <summary>
    /// The most tokens to generate. Default: the model's <c>max_new_tokens</c>, else its <c>max_length</c> minus the prompt,
    /// else up to the context length. Generation always ends at the context length with <see cref="FinishReason.Length"/>.
    /// </summary>
    public int? MaxNewTokens { get; set; }

    /// <summary>Whether to sample (true) or always take the most likely token (false, greedy).</summary>
    public bool? DoSample { get; set; }

    /// <summary>Divides the scores before sampling: below 1 sharper, above 1 flatter. 0 means greedy. Must be 0 or more.</summary>
    public float? Temperature { get; set; }

    /// <summary>Keeps only the K most likely tokens (ties with the K-th kept). 0 turns it off. Must be 0 or more.</summary>
    public int? TopK { get; set; }

    /// <summary>Keeps the smallest set of most likely tokens whose probability reaches P (nucleus sampling). Must be in (0, 1].</summary>
    public float? TopP { get; set; }

    /// <summary>Removes tokens less likely than MinP times the most likely token's probability. Must be in [0, 1].</summary>
    public float? MinP { get; set; }

    /// <summary>Penalizes tokens already in the sequence (Hugging Face semantics; 1 is off). Must be more than 0.</summary>
    public float? RepetitionPenalty { get; set; }

    /// <summary>Seeds the sampler: the same seed, prompt and settings give the same output. Null: a random seed.</summary>
    public int? Seed { get; set; }

    /// <summary>Text that ends generation when it appears; it is not part of the output. Matched across token boundaries.</summary>
    public IList<string>? StopSequences { get; set; }

    /// <summary>Returns a copy of these options with every null setting taken from <paramref name="fallback"/>.</summary>
    /// <param name="fallback">The defaults to fill in.</param>
    public GenerationOptions WithDefaults(GenerationOptions? fallback)
    {
        if (fallback is null)
        {
            return this;
        }

        return new GenerationOptions
        {
            MaxNewTokens = MaxNewTokens ?? fallback.MaxNewTokens,
            DoSample = DoSample ?? fallback.DoSample,
            Temperature = Temperature ?? fallback.Temperature,
            TopK = TopK ?? fallback.TopK,
            TopP = TopP ?? fallback.TopP,
            MinP = MinP ?? fallback.MinP,
            RepetitionPenalty = RepetitionPenalty ?? fallback.RepetitionPenalty,
            Seed = Seed ?? fallback.Seed,
            StopSequences = StopSequences ?? fallback.StopSequences,
        };
    }

    /// <summary>Checks every setting that is set, and throws for the first one out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the exception names it.</exception>
    /// <exception cref="ArgumentException">A stop sequence is null or empty.</exception>
    public void Validate()
    {
        foreach (var (name, message) in GetErrors())
        {
            if (name == nameof(StopSequences))
            {
                throw new ArgumentException(message, name);
            }

            throw new ArgumentOutOfRangeException(name, message);
        }
    }

    /// <summary>Lists each invalid setting with a message; empty when every setting is valid.</summary>
    internal IEnumerable<(string Setting, string Message)> GetErrors()
    {
        if (MaxNewTokens is < 1)
        {
            yield return (nameof(MaxNewTokens), $"MaxNewTokens must be at least 1, but was {MaxNewTokens}.");
        }

        if (Temperature is { } t && (float.IsNaN(t) || t < 0 || float.IsInfinity(t)))
        {
            yield return (nameof(Temperature), $"Temperature must be a finite number of 0 or more, but was {t}.");
        }

        if (TopK is < 0)
        {
            yield return (nameof(TopK), $"TopK must be 0 (off) or more, but was {TopK}.");
        }

        if (TopP is { } p && !(p > 0 && p <= 1))
        {
            yield return (nameof(TopP), $"TopP must be in (0, 1], but was {p}.");
        }

        if (MinP is { } m && !(m >= 0 && m <= 1))
        {
            yield return (nameof(MinP), $"MinP must be in [0, 1], but was {m}.");
        }

        if (RepetitionPenalty is { } r && !(r > 0 && !float.IsInfinity(r)))
        {
            yield return (nameof(RepetitionPenalty), $"RepetitionPenalty must be a finite number more than 0, but was {r}.");
        }

        if (StopSequences is not null && StopSequences.Any(string.IsNullOrEmpty))
        {
            yield return (nameof(StopSequences), "StopSequences must not contain null or empty strings.");
        }
    }
}
