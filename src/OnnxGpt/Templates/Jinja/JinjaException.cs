namespace OnnxGpt.Templates.Jinja;

/// <summary>A template that cannot be parsed or rendered; the message says where and why.</summary>
internal sealed class JinjaException : Exception
{
    public JinjaException(string message, int line = 0, int column = 0, bool isSyntax = false, bool raisedByTemplate = false)
        : base(line > 0 ? $"line {line}, column {column}: {message}" : message)
    {
        Reason = message;
        Line = line;
        Column = column;
        IsSyntax = isSyntax;
        RaisedByTemplate = raisedByTemplate;
    }

    public JinjaException()
        : this("The template failed.")
    {
    }

    public JinjaException(string message)
        : this(message, 0)
    {
    }

    public JinjaException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = message;
    }

    /// <summary>The message without its position.</summary>
    public string Reason { get; }

    /// <summary>The 1-based line, or 0 when unknown.</summary>
    public int Line { get; }

    /// <summary>The 1-based column, or 0 when unknown.</summary>
    public int Column { get; }

    /// <summary>Whether the template could not be parsed (as opposed to failing while rendering).</summary>
    public bool IsSyntax { get; }

    /// <summary>Whether the template itself raised the error (<c>raise_exception</c>).</summary>
    public bool RaisedByTemplate { get; }
}
