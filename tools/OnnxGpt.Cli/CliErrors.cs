using OnnxGpt.Generation;

namespace OnnxGpt.Cli;

/// <summary>Turns an exception into one sentence on stderr (the whole exception with --verbose) and an exit code.</summary>
internal static class CliErrors
{
    /// <summary>Reports <paramref name="exception"/> and returns the exit code for it.</summary>
    public static async Task<int> ReportAsync(Exception exception, TextWriter stderr, bool verbose, CancellationToken cancellationToken)
    {
        var exitCode = ExitCodeFor(exception, cancellationToken);
        if (exitCode == ExitCodes.Cancelled)
        {
            await stderr.WriteLineAsync("Cancelled.");
            return exitCode;
        }

        await stderr.WriteLineAsync($"error: {Describe(exception)}");
        if (verbose)
        {
            await stderr.WriteLineAsync(exception.ToString());
        }

        return exitCode;
    }

    /// <summary>The exit code for an exception: usage errors 2, cancellation 130, everything else 1.</summary>
    public static int ExitCodeFor(Exception exception, CancellationToken cancellationToken) => exception switch
    {
        OperationCanceledException when cancellationToken.IsCancellationRequested => ExitCodes.Cancelled,
        // Bad input: the command line, a setting, or a prompt the model's context cannot hold.
        CliUsageException or ArgumentException or PromptTooLongException => ExitCodes.Usage,
        // ModelLoadException, ExecutionProviderException, PromptTooLongException and any other GptException,
        // and whatever else went wrong at run time.
        _ => ExitCodes.Failure,
    };

    /// <summary>
    /// The exception's message as one line, without the "(Parameter 'x')" and "Actual value was" parts .NET appends,
    /// naming the command line's flags rather than the library's settings.
    /// </summary>
    public static string Describe(Exception exception)
    {
        var message = exception.Message;
        if (exception is ArgumentException { ParamName: { Length: > 0 } name })
        {
            var suffix = $" (Parameter '{name}')";
            var at = message.IndexOf(suffix, StringComparison.Ordinal);
            if (at >= 0)
            {
                message = message[..at];
            }
        }

        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 0 ? "the command failed without a message; run it again with --verbose for details." : CliFlags.Rename(string.Join(' ', lines));
    }
}
