namespace OnnxGpt.Generation;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model produced an end-of-sequence token.</summary>
    Eos,

    /// <summary>The generation reached <see cref="GenerationOptions.MaxNewTokens"/> or the model's context length.</summary>
    Length,

    /// <summary>The text reached one of <see cref="GenerationOptions.StopSequences"/>.</summary>
    Stop,

    /// <summary>
    /// The caller cancelled. Cancellation surfaces as <see cref="GenerationCanceledException"/>, whose
    /// <see cref="GenerationCanceledException.PartialResult"/> carries this reason and what was generated until then.
    /// </summary>
    Cancelled,
}
