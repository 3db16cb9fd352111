namespace OnnxGpt.Templates;

/// <summary>
/// A chat template that cannot be parsed (a syntax error or a construct the engine lacks) or that failed while
/// rendering (for example its own <c>raise_exception</c>, as when roles do not alternate).
/// </summary>
public sealed class ChatTemplateException : GptException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public ChatTemplateException()
        : base("The chat template failed.")
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ChatTemplateException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and a cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public ChatTemplateException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    internal ChatTemplateException(string message, int line, int column, bool isSyntax, bool raisedByTemplate, Exception? innerException = null)
        : base(message, innerException)
    {
        Line = line;
        Column = column;
        IsSyntaxError = isSyntax;
        RaisedByTemplate = raisedByTemplate;
    }

    /// <summary>The 1-based line in the template source, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The 1-based column in the template source, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>Whether the template could not be parsed (rather than failing while rendering).</summary>
    public bool IsSyntaxError { get; }

    /// <summary>Whether the template itself raised the error with <c>raise_exception(...)</c>.</summary>
    public bool RaisedByTemplate { get; }
}
