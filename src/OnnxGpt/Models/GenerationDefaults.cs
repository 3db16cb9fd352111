namespace OnnxGpt.Models;

/// <summary>
/// The generation settings a model ships in <c>generation_config.json</c> (or <c>genai_config.json</c>'s
/// <c>search</c> section). A null setting means the model says nothing about it, and it is off.
/// </summary>
public sealed record GenerationDefaults
{
    /// <summary>Nothing specified.</summary>
    public static GenerationDefaults None { get; } = new();

    /// <summary>Whether the model samples by default (false or null: greedy).</summary>
    public bool? DoSample { get; init; }

    /// <summary>Default temperature.</summary>
    public float? Temperature { get; init; }

    /// <summary>Default top-k.</summary>
    public int? TopK { get; init; }

    /// <summary>Default top-p (nucleus) mass.</summary>
    public float? TopP { get; init; }

    /// <summary>Default min-p ratio.</summary>
    public float? MinP { get; init; }

    /// <summary>Default repetition penalty.</summary>
    public float? RepetitionPenalty { get; init; }

    /// <summary>Default total length, prompt included (Hugging Face's <c>max_length</c>).</summary>
    public int? MaxLength { get; init; }

    /// <summary>Default number of new tokens (Hugging Face's <c>max_new_tokens</c>).</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>These defaults as request settings, for filling what a request and the application leave null.</summary>
    internal Generation.GenerationOptions ToOptions() => new()
    {
        DoSample = DoSample,
        Temperature = Temperature,
        TopK = TopK,
        TopP = TopP,
        MinP = MinP,
        RepetitionPenalty = RepetitionPenalty,
        MaxNewTokens = MaxNewTokens,
    };

    /// <summary>
    /// How many tokens a request may generate: its own MaxNewTokens, else the model's max_new_tokens, else its
    /// max_length minus the prompt, else up to the context; never past the context, and at least one.
    /// </summary>
    internal static int MaxNewTokensFor(GptModelInfo info, Generation.GenerationOptions settings, int promptLength)
    {
        var room = info.ContextLength - promptLength;
        var wanted = settings.MaxNewTokens
            ?? (info.Defaults.MaxLength is { } maxLength && maxLength > promptLength ? maxLength - promptLength : room);
        return Math.Max(1, Math.Min(wanted, room));
    }
}
