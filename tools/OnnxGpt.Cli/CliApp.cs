using System.CommandLine;
using System.CommandLine.Help;

namespace OnnxGpt.Cli;

/// <summary>The <c>onnxgpt</c> command line, runnable in-process: parses the arguments, runs the command, maps errors to exit codes.</summary>
internal static class CliApp
{
    /// <summary>Runs the command line and returns its exit code.</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors, summaries and logs go.</param>
    /// <param name="cancellationToken">Cancels a running generation (Ctrl+C); the exit code is then <see cref="ExitCodes.Cancelled"/>.</param>
    public static Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken) =>
        RunAsync(args, new CliConsole(stdout, stderr), cancellationToken);

    /// <summary>Runs the command line on <paramref name="console"/> and returns its exit code.</summary>
    /// <param name="args">The arguments, without the program name.</param>
    /// <param name="console">Standard output, error and (piped) input.</param>
    /// <param name="cancellationToken">
    /// Cancels a running generation: Ctrl+C (exit code <see cref="ExitCodes.Cancelled"/>), or stdout's reader leaving
    /// (<see cref="CliConsole.OutputClosed"/>: exit code <see cref="ExitCodes.Success"/>, nothing reported).
    /// </param>
    public static async Task<int> RunAsync(string[] args, CliConsole console, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(console);
        var (stdout, stderr) = (console.Out, console.Error);
        // Not a RootCommand: that one names itself after the assembly (OnnxGpt.Cli), and the command is onnxgpt.
        var root = new Command("onnxgpt", "Runs GPT-style ONNX models: generate text, show the next-token distribution, tokenize text, inspect a model.")
        {
            new HelpOption(),
            new VersionOption(),
            CommonOptions.Verbose,
            GenerateCommand.Create(console.In),
            NextTokenCommand.Create(console.In),
            TokenizeCommand.Create(console.In),
            ChatTemplateCommand.Create(),
            InspectCommand.Create(),
            ProvidersCommand.Create(),
            SoakCommand.Create(),
            BenchCommand.Create(),
            QuantizeCommand.Create(),
            OptimizeCommand.Create(),
            PerplexityCommand.Create(),
            ServeCommand.Create(),
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await stderr.WriteLineAsync($"error: {CliFlags.Rename(error.Message)}");
            }

            // The whole command path (onnxgpt bench concurrency), not only the last name.
            var names = new List<string>();
            for (var result = parsed.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            {
                names.Insert(0, result.Command == root ? "onnxgpt" : result.Command.Name);
            }

            var name = string.Join(' ', names);
            await stderr.WriteLineAsync($"Run '{name} --help' for usage.");
            return ExitCodes.Usage;
        }

        var configuration = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            // Ctrl+C is handled by the caller through cancellationToken, so that tests can cancel too.
            ProcessTerminationTimeout = null,
        };

        try
        {
            return await parsed.InvokeAsync(configuration, cancellationToken);
        }
        catch (OperationCanceledException) when (console.OutputClosed.IsCancellationRequested)
        {
            // Like any Unix filter whose reader left (| head): stop quietly.
            return ExitCodes.Success;
        }
        catch (Exception ex)
        {
            return await CliErrors.ReportAsync(ex, stderr, parsed.GetValue(CommonOptions.Verbose), cancellationToken);
        }
    }
}
