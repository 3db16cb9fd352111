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
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(args);
        // Not a RootCommand: that one names itself after the assembly (OnnxGpt.Cli), and the command is onnxgpt.
        var root = new Command("onnxgpt", "Runs GPT-style ONNX models: generate text, show the next-token distribution, tokenize text, inspect a model.")
        {
            new HelpOption(),
            new VersionOption(),
            CommonOptions.Verbose,
            GenerateCommand.Create(),
            NextTokenCommand.Create(),
            TokenizeCommand.Create(),
            InspectCommand.Create(),
            ProvidersCommand.Create(),
            SoakCommand.Create(),
            BenchCommand.Create(),
            QuantizeCommand.Create(),
            PerplexityCommand.Create(),
        };

        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await stderr.WriteLineAsync($"error: {error.Message}");
            }

            var command = parsed.CommandResult.Command;
            var name = command == root ? "onnxgpt" : $"onnxgpt {command.Name}";
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
        catch (Exception ex)
        {
            return await CliErrors.ReportAsync(ex, stderr, parsed.GetValue(CommonOptions.Verbose), cancellationToken);
        }
    }
}
