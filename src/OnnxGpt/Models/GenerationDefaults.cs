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
}
