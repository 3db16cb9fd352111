namespace OnnxGpt;

/// <summary>
/// The base class of the exceptions OnnxGpt throws for problems with a model, its files or a request.
/// Argument errors are reported with the standard <see cref="ArgumentException"/> family instead.
/// </summary>
public class GptException : Exception
{
    /// <summary>Creates an exception with no message.</summary>
    public GptException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong and what to do about it.</param>
    public GptException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the exception that caused it.</summary>
    /// <param name="message">What went wrong and what to do about it.</param>
    /// <param name="innerException">The underlying error.</param>
    public GptException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
