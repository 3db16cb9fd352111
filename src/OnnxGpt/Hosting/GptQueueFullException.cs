using OnnxGpt.Generation;

namespace OnnxGpt.Hosting;

/// <summary>
/// Thrown when a request arrives while <see cref="GptOptions.MaxConcurrentRequests"/> generations are running and
/// <see cref="GptOptions.MaxQueuedRequests"/> more are already waiting. Retry later, or raise the limits.
/// </summary>
public sealed class GptQueueFullException : GptException
{
    /// <summary>Creates an exception with no message.</summary>
    public GptQueueFullException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">The message.</param>
    public GptQueueFullException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The underlying error.</param>
    public GptQueueFullException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception stating the limits that were reached.</summary>
    /// <param name="running">Generations running.</param>
    /// <param name="queued">Requests waiting.</param>
    public GptQueueFullException(int running, int queued)
        : base($"The generation queue is full: {running} generations are running and {queued} requests are waiting. Retry later, or raise GptOptions.MaxConcurrentRequests / MaxQueuedRequests.")
    {
        Running = running;
        Queued = queued;
    }

    /// <summary>Generations running when the request was refused.</summary>
    public int Running { get; }

    /// <summary>Requests waiting when the request was refused.</summary>
    public int Queued { get; }
}
