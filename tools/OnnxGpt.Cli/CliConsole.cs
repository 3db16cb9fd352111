namespace OnnxGpt.Cli;

/// <summary>What a run of the command line reads and writes.</summary>
/// <param name="Out">Where results go.</param>
/// <param name="Error">Where errors, summaries and logs go.</param>
/// <param name="In">Standard input when it is piped (the prompt may come from there); null when it is a terminal.</param>
/// <param name="OutputClosed">Signalled when <paramref name="Out"/>'s reader went away: the run then ends quietly with exit 0.</param>
internal sealed record CliConsole(TextWriter Out, TextWriter Error, TextReader? In = null, CancellationToken OutputClosed = default);
