using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt generate</c>: streams text from a prompt, or prints the whole result as JSON.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Argument<string?>("PROMPT")
        {
            Description = "The prompt text. Give it or --prompt-ids, not both.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "The prompt as comma-separated token ids, fed as they are (e.g. 859,26).", HelpName = "IDS" };
        var model = CommonOptions.Model();
        var maxNewTokens = new Option<int?>("--max-new-tokens", "-n") { Description = "The most tokens to generate. Default: the model's.", HelpName = "N" };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token (no sampling)." };
        var temperature = new Option<float?>("--temperature") { Description = "Sampling temperature (0 or more). Default: the model's.", HelpName = "T" };
        var topK = new Option<int?>("--top-k") { Description = "Keep the K most likely tokens (0: off). Default: the model's.", HelpName = "K" };
        var topP = new Option<float?>("--top-p") { Description = "Nucleus sampling: keep the most likely tokens up to probability P, in (0, 1].", HelpName = "P" };
        var minP = new Option<float?>("--min-p") { Description = "Drop tokens below P times the top token's probability, in [0, 1].", HelpName = "P" };
        var repetitionPenalty = new Option<float?>("--repetition-penalty") { Description = "Penalize tokens already in the sequence (1: off).", HelpName = "R" };
        var seed = new Option<int?>("--seed") { Description = "Seed the sampler for reproducible output.", HelpName = "S" };
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text appears (repeatable); it is not printed.", HelpName = "TEXT" };
        var providers = CommonOptions.ExecutionProviders();
        var json = CommonOptions.Json();

        var command = new Command("generate", "Generate text from a prompt, streaming it to stdout.")
        {
            prompt, promptIds, model, maxNewTokens, greedy, temperature, topK, topP, minP, repetitionPenalty, seed, stop, providers, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var request = new GenerateRequest(
                Prompt: BuildPrompt(r.GetValue(prompt), r.GetValue(promptIds)),
                ModelPath: r.GetValue(model),
                ExecutionProviders: r.GetValue(providers) ?? [],
                Options: new GenerationOptions
                {
                    MaxNewTokens = r.GetValue(maxNewTokens),
                    DoSample = r.GetValue(greedy) ? false : null,
                    Temperature = r.GetValue(temperature),
                    TopK = r.GetValue(topK),
                    TopP = r.GetValue(topP),
                    MinP = r.GetValue(minP),
                    RepetitionPenalty = r.GetValue(repetitionPenalty),
                    Seed = r.GetValue(seed),
                    StopSequences = r.GetValue(stop) is { Length: > 0 } stops ? stops : null,
                },
                Json: r.GetValue(json),
                Verbose: r.GetValue(CommonOptions.Verbose));
            return await RunAsync(request, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error, ct);
        });
        return command;
    }

    /// <summary>Exactly one of the prompt text and --prompt-ids.</summary>
    public static GptPrompt BuildPrompt(string? text, string? ids) => (text, ids) switch
    {
        (not null, not null) => throw new CliUsageException("Give either a PROMPT or --prompt-ids, not both."),
        (null, null) => throw new CliUsageException("Give a PROMPT (e.g. onnxgpt generate \"ROMEO:\") or --prompt-ids."),
        (not null, null) => GptPrompt.FromText(text),
        _ => GptPrompt.FromTokenIds(PromptIds.Parse(ids!)),
    };

    public static async Task<int> RunAsync(GenerateRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        // Settings are checked before the model loads, so a typo fails fast (exit 2, naming the setting).
        request.Options.Validate();

        using var loggerFactory = ModelLoader.CreateLoggerFactory(request.Verbose);
        using var model = ModelLoader.Load(request.ModelPath, request.ExecutionProviders, loggerFactory);
        var generator = GptGenerator.Create(model, loggerFactory);

        if (request.Json)
        {
            var result = await generator.GenerateAsync(request.Prompt, request.Options, cancellationToken);
            await stdout.WriteLineAsync(JsonSerializer.Serialize(GenerateJson.From(result), CliJsonContext.Output.GenerateJson));
            await stdout.FlushAsync(cancellationToken);
            return ExitCodes.Success;
        }

        GenerationResult? final = null;
        var streamed = false;
        try
        {
            await foreach (var token in generator.StreamAsync(request.Prompt, request.Options, cancellationToken))
            {
                streamed = true;
                if (token.Text.Length > 0)
                {
                    await stdout.WriteAsync(token.Text);
                    await stdout.FlushAsync(CancellationToken.None);
                }

                final = token.Result ?? final;
            }
        }
        finally
        {
            // End the streamed text with a newline even when cancelled, so what follows starts on its own line.
            if (streamed)
            {
                await stdout.WriteLineAsync();
                await stdout.FlushAsync(CancellationToken.None);
            }
        }

        if (final is not null)
        {
            await stderr.WriteLineAsync(Summary(final));
        }

        return ExitCodes.Success;
    }

    /// <summary>The stderr line after the text: <c>[64 tokens, finish: Length, 12.3 ms to first token, 250.1 tokens/s, Cpu]</c>.</summary>
    public static string Summary(GenerationResult result) => string.Create(
        CultureInfo.InvariantCulture,
        $"[{result.GeneratedTokenCount} {(result.GeneratedTokenCount == 1 ? "token" : "tokens")}, finish: {result.FinishReason}, {result.TimeToFirstToken.TotalMilliseconds:F1} ms to first token, {result.TokensPerSecond:F1} tokens/s, {result.ExecutionProvider}]");
}

/// <summary>A parsed <c>generate</c> command line.</summary>
internal sealed record GenerateRequest(
    GptPrompt Prompt,
    string? ModelPath,
    IReadOnlyList<string> ExecutionProviders,
    GenerationOptions Options,
    bool Json,
    bool Verbose);
