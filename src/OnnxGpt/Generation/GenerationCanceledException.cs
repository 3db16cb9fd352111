namespace OnnxGpt.Generation;

/// <summary>
/// Thrown when a generation's cancellation token is cancelled. It is an <see cref="OperationCanceledException"/>,
/// so ordinary cancellation handling catches it; <see cref="PartialResult"/> holds what was generated until then.
/// </summary>
public sealed class GenerationCanceledException : OperationCanceledException
{
    /// <summary>Creates an exception with no message.</summary>
    public GenerationCanceledException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">The message.</param>
    public GenerationCanceledException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public GenerationCanceledException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception carrying the partial result.</summary>
    /// <param name="partialResult">What was generated before cancellation (finish reason <see cref="FinishReason.Cancelled"/>).</param>
    /// <param name="cancellationToken">The token that was cancelled.</param>
    public GenerationCanceledException(GenerationResult partialResult, CancellationToken cancellationToken)
        : base("The generation was cancelled.", cancellationToken)
    {
        PartialResult = partialResult;
    }

    /// <summary>What was generated before cancellation; null when cancelled before the request started.</summary>
    public GenerationResult? PartialResult { get; }
}
