namespace OnnxGpt.Cli;

/// <summary>A command line that parses but makes no sense (for example both a prompt and --prompt-ids); exits with <see cref="ExitCodes.Usage"/>.</summary>
internal sealed class CliUsageException : Exception
{
    public CliUsageException()
    {
    }

    public CliUsageException(string message)
        : base(message)
    {
    }

    public CliUsageException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
