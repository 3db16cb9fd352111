using System.CommandLine;
using System.Text.Json;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt tokenize</c>: prints the token ids the model's tokenizer gives for a text.</summary>
internal static class TokenizeCommand
{
    /// <param name="stdin">Piped standard input, read when TEXT is -; null for a terminal.</param>
    public static Command Create(TextReader? stdin)
    {
        var text = new Argument<string>("TEXT") { Description = "The text to tokenize; - reads it from piped standard input." };
        var model = CommonOptions.Model();
        var json = CommonOptions.Json();
        var command = new Command("tokenize", "Print the token ids of a text (bos included when the model adds it).")
        {
            text, model, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            using var loggerFactory = ModelLoader.CreateLoggerFactory(r.GetValue(CommonOptions.Verbose), r.InvocationConfiguration.Error);
            using var loaded = ModelLoader.Load(r.GetValue(model), executionProviders: null, loggerFactory);
            var ids = loaded.Encode(GenerateCommand.FromStdinIfDash(r.GetValue(text), stdin)!);
            var stdout = r.InvocationConfiguration.Output;
            await stdout.WriteLineAsync(r.GetValue(json)
                ? JsonSerializer.Serialize(new TokenizeJson(ids), CliJsonContext.Output.TokenizeJson)
                : string.Join(',', ids));
            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }
}
