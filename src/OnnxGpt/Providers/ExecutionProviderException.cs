namespace OnnxGpt.Providers;

/// <summary>
/// Thrown when none of the execution providers listed in <see cref="Generation.GptOptions.ExecutionProviders"/>
/// could create a session for the model. <see cref="Failures"/> says why each one failed.
/// </summary>
public sealed class ExecutionProviderException : GptException
{
    /// <summary>Creates an exception with no message.</summary>
    public ExecutionProviderException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ExecutionProviderException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The underlying error.</param>
    public ExecutionProviderException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception listing each provider that was tried and why it failed.</summary>
    /// <param name="failures">Provider name and reason, in the order tried.</param>
    public ExecutionProviderException(IReadOnlyList<KeyValuePair<string, string>> failures)
        : this(failures, required: false)
    {
    }

    /// <summary>Creates an exception listing each provider tried; <paramref name="required"/> says the first one was mandatory.</summary>
    /// <param name="failures">Provider name and reason, in the order tried.</param>
    /// <param name="required">Whether <see cref="Generation.GptOptions.RequireExecutionProvider"/> stopped the fallback.</param>
    public ExecutionProviderException(IReadOnlyList<KeyValuePair<string, string>> failures, bool required)
        : base(required
            ? $"The required execution provider {failures[0].Key} cannot run the model: {failures[0].Value}. (RequireExecutionProvider is set, so no other provider was tried.)"
            : "No execution provider could run the model: "
                + string.Join("; ", failures.Select(f => $"{f.Key}: {f.Value}"))
                + ". Add \"Cpu\" to ExecutionProviders as a fallback, or install the provider's native package and libraries.")
    {
        Failures = failures;
    }

    /// <summary>Each provider tried, with the reason it could not be used.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Failures { get; } = [];
}
