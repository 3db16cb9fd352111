using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OnnxGpt.Evaluation;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt perplexity</c>: exp(mean NLL) of a text file, in consecutive windows of the context length.</summary>
internal static class PerplexityCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var variant = CommonOptions.Variant();
        var file = new Option<string>("--file", "-f") { Description = "The text to score (UTF-8), tokenized without special tokens.", HelpName = "PATH", Required = true };
        var context = NumberOption.Create<int>("--context", "Window length in tokens (stride = window; each window starts from an empty cache). Default: the model's context length.", "N");
        var providers = CommonOptions.ExecutionProviders();
        var json = CommonOptions.Json();
        var command = new Command("perplexity", "Score a text file: {\"tokens\": n, \"perplexity\": p}, every token of each window but its first scored, as transformers' perplexity guide with stride = context.")
        {
            model, variant, file, context, providers, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var path = r.GetValue(file)!;
            if (!File.Exists(path))
            {
                throw new CliUsageException($"No text file at '{path}' (--file).");
            }

            using var loggerFactory = ModelLoader.CreateLoggerFactory(r.GetValue(CommonOptions.Verbose), r.InvocationConfiguration.Error);
            using var loaded = ModelLoader.Load(r.GetValue(model), r.GetValue(variant), r.GetValue(providers), loggerFactory);
            var tokenizer = loaded.Tokenizer ?? throw new CliUsageException($"The model at '{loaded.Info.ModelPath}' has no tokenizer, so it cannot score text.");
            var ids = tokenizer.Encode(await File.ReadAllTextAsync(path, ct), addSpecialTokens: false);
            var watch = Stopwatch.StartNew();
            var result = await Perplexity.ComputeAsync(loaded, ids, r.GetValue(context), ct);
            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(new PerplexityJson(result.Tokens, result.Value), CliJsonContext.Output.PerplexityJson));
            }
            else
            {
                await stdout.WriteLineAsync($"perplexity {result.Value.ToString("F4", CultureInfo.InvariantCulture)} over {result.Tokens} tokens in {result.Windows} windows (mean NLL {result.MeanNegativeLogLikelihood.ToString("F5", CultureInfo.InvariantCulture)} nats, {watch.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s)");
            }

            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>What <c>perplexity --json</c> prints.</summary>
internal sealed record PerplexityJson(int Tokens, double Perplexity);
