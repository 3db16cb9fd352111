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
        var variant = CommonOptions.Variant();
        var noSpecial = new Option<bool>("--no-special-tokens")
        {
            Description = "Leave out the special tokens the tokenizer adds around a text (bos for Llama, Gemma, Mistral), as Hugging Face's tokenizer(text, add_special_tokens=False).",
        };
        var json = new Option<bool>("--json")
        {
            Description = "Print {\"ids\": [...], \"tokens\": [...], \"texts\": [...]}: the ids, their vocabulary pieces (as Hugging Face's convert_ids_to_tokens, for example Ġworld or ▁the) and the text each id decodes to on its own.",
        };
        var command = new Command("tokenize", "Print the token ids of a text, as Hugging Face's tokenizer(text) gives them (special tokens included).")
        {
            text, model, variant, noSpecial, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            using var loggerFactory = ModelLoader.CreateLoggerFactory(r.GetValue(CommonOptions.Verbose), r.InvocationConfiguration.Error);
            using var loaded = ModelLoader.Load(r.GetValue(model), r.GetValue(variant), executionProviders: null, loggerFactory);
            var tokenizer = loaded.Tokenizer
                ?? throw new CliUsageException($"The model at '{loaded.Info.ModelPath}' has no tokenizer OnnxGpt can read, so it cannot tokenize text.");
            var ids = tokenizer.Encode(GenerateCommand.FromStdinIfDash(r.GetValue(text), stdin)!, addSpecialTokens: !r.GetValue(noSpecial));
            var stdout = r.InvocationConfiguration.Output;
            await stdout.WriteLineAsync(r.GetValue(json)
                ? JsonSerializer.Serialize(new TokenizeJson(ids, [.. ids.Select(tokenizer.IdToToken)], [.. ids.Select(id => tokenizer.Decode([id]))]), CliJsonContext.Output.TokenizeJson)
                : string.Join(',', ids));
            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }
}
