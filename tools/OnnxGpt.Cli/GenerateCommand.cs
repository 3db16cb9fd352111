using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt generate</c>: streams text from a prompt, or prints the whole result as JSON.</summary>
internal static class GenerateCommand
{
    /// <param name="stdin">Piped standard input, where the prompt comes from when PROMPT is - or no prompt is given; null for a terminal.</param>
    public static Command Create(TextReader? stdin)
    {
        var prompt = new Argument<string?>("PROMPT")
        {
            Description = "The prompt text; - or nothing reads it from piped standard input. Give it (and/or --prompt) or --prompt-ids.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var prompts = new Option<string[]>("--prompt", "-p") { Description = "A prompt (repeatable): several prompts run together as one batch, one session run per step for all rows.", HelpName = "TEXT" };
        var backend = new Option<string>("--backend") { Description = "The engine: onnxgpt (default) or genai (onnxruntime-genai, for folders with genai_config.json).", HelpName = "NAME", DefaultValueFactory = _ => "onnxgpt" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "The prompt as comma-separated token ids, fed as they are (e.g. 859,26).", HelpName = "IDS" };
        var model = CommonOptions.Model();
        var variant = CommonOptions.Variant();
        var maxNewTokens = NumberOption.Create<int>("--max-new-tokens", "The most tokens to generate. Default: the model's.", "N", "-n");
        var sampling = new SamplingFlags();
        var topLogprobs = NumberOption.Create<int>("--top-logprobs", "With --json: list each token with its log-probability and the N most likely alternatives (0 to 20).", "N");
        var stop = new Option<string[]>("--stop") { Description = "Stop when this text appears (repeatable); it is not printed.", HelpName = "TEXT" };
        var providers = CommonOptions.ExecutionProviders();
        var json = CommonOptions.Json();
        var jsonSchema = new Option<string?>("--json-schema") { Description = "Constrain the output to JSON matching the JSON schema in FILE; it ends as soon as the value is complete.", HelpName = "FILE" };
        var jsonObject = new Option<bool>("--json-object") { Description = "Constrain the output to a JSON object." };
        var promptLookup = NumberOption.Create<int>("--prompt-lookup", "Speculative decoding by prompt lookup: draft up to N tokens that followed the last n-gram's earlier occurrence in the prompt and output, verified in one run (same output). 0 to 64.", "N");
        var draftModel = new Option<string?>("--draft-model") { Description = "Speculative decoding with a draft model of the same tokenizer (e.g. the int4 output of onnxgpt quantize): it drafts, this model verifies (same output).", HelpName = "DIR" };
        var draftTokens = NumberOption.Create<int>("--draft-tokens", "With --draft-model: the most tokens it drafts per step (adaptive; default 8).", "N");

        var command = new Command("generate", "Generate text from a prompt, streaming it to stdout.")
        {
            prompt, prompts, promptIds, model, variant, maxNewTokens, backend,
        };
        sampling.AddTo(command);
        command.Options.Add(topLogprobs);
        command.Options.Add(stop);
        command.Options.Add(providers);
        command.Options.Add(json);
        command.Options.Add(jsonSchema);
        command.Options.Add(jsonObject);
        command.Options.Add(promptLookup);
        command.Options.Add(draftModel);
        command.Options.Add(draftTokens);

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var request = new GenerateRequest(
                Prompts: BuildPrompts(r.GetValue(prompt), r.GetValue(prompts), r.GetValue(promptIds), stdin),
                Backend: ParseBackend(r.GetValue(backend)),
                ModelPath: r.GetValue(model),
                ExecutionProviders: r.GetValue(providers) ?? [],
                Options: sampling.Read(r, new GenerationOptions
                {
                    MaxNewTokens = r.GetValue(maxNewTokens),
                    TopLogprobs = r.GetValue(topLogprobs),
                    StopSequences = r.GetValue(stop) is { Length: > 0 } stops ? stops : null,
                    JsonSchema = ReadJsonSchema(r.GetValue(jsonSchema), r.GetValue(jsonObject)),
                    PromptLookupTokens = r.GetValue(promptLookup),
                    DraftTokens = r.GetValue(draftTokens),
                }),
                Json: r.GetValue(json),
                Verbose: r.GetValue(CommonOptions.Verbose),
                Variant: r.GetValue(variant),
                DraftModelPath: r.GetValue(draftModel));
            return await RunAsync(request, r.InvocationConfiguration.Output, r.InvocationConfiguration.Error, ct);
        });
        return command;
    }

    /// <summary>The schema text of --json-schema FILE, or an object schema for --json-object; null for neither.</summary>
    public static string? ReadJsonSchema(string? file, bool jsonObject)
    {
        if (file is null)
        {
            return jsonObject ? """{"type":"object"}""" : null;
        }

        if (jsonObject)
        {
            throw new CliUsageException("Give either --json-schema or --json-object, not both.");
        }

        try
        {
            return File.ReadAllText(file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"--json-schema: cannot read '{file}': {ex.Message}");
        }
    }

    /// <summary>
    /// The prompt text and --prompt values (several make a batch), or --prompt-ids alone. PROMPT <c>-</c>, or no
    /// prompt at all with <paramref name="stdin"/> piped, reads the prompt from standard input.
    /// </summary>
    public static IReadOnlyList<GptPrompt> BuildPrompts(string? text, string[]? texts, string? ids, TextReader? stdin)
    {
        text = FromStdinIfDash(text, stdin);
        if (text is null && texts is not { Length: > 0 } && ids is null && stdin is not null)
        {
            text = ReadPrompt(stdin);
            text = text.Length == 0 ? null : text;
        }

        var all = new List<string>();
        if (text is not null)
        {
            all.Add(text);
        }

        all.AddRange(texts ?? []);
        return (all.Count, ids) switch
        {
            ( > 0, not null) => throw new CliUsageException("Give either prompt text (PROMPT or --prompt) or --prompt-ids, not both."),
            (0, null) => throw new CliUsageException("Give a PROMPT (e.g. onnxgpt generate \"ROMEO:\"), one or more --prompt, or --prompt-ids."),
            (0, _) => [GptPrompt.FromTokenIds(PromptIds.Parse(ids!))],
            _ => [.. all.Select(GptPrompt.FromText)],
        };
    }

    /// <summary>Exactly one of the prompt text and --prompt-ids.</summary>
    public static GptPrompt BuildPrompt(string? text, string? ids, TextReader? stdin) => BuildPrompts(text, null, ids, stdin)[0];

    /// <summary><paramref name="text"/>, or all of piped standard input when it is <c>-</c>.</summary>
    public static string? FromStdinIfDash(string? text, TextReader? stdin) => text != "-"
        ? text
        : ReadPrompt(stdin ?? throw new CliUsageException("- reads the text from standard input, but standard input is a terminal: pipe it in (echo \"ROMEO:\" | onnxgpt generate -)."));

    /// <summary>All of standard input, without the one line break that ends it (echo's).</summary>
    private static string ReadPrompt(TextReader stdin)
    {
        var text = stdin.ReadToEnd();
        return text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;
    }

    private static string ParseBackend(string? name) => name?.Trim().ToUpperInvariant() switch
    {
        null or "" or "ONNXGPT" => GptBackend.OnnxGpt,
        "GENAI" => GptBackend.GenAI,
        _ => throw new CliUsageException($"Unknown --backend '{name}'; use onnxgpt or genai."),
    };

    public static async Task<int> RunAsync(GenerateRequest request, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        // Settings are checked before the model loads, so a typo fails fast (exit 2, naming the setting).
        request.Options.Validate();

        using var loggerFactory = ModelLoader.CreateLoggerFactory(request.Verbose, stderr);
        using var loaded = ModelLoader.LoadGenerator(request.ModelPath, request.Variant, request.ExecutionProviders, request.Backend, loggerFactory, request.DraftModelPath);
        var generator = loaded.Generator;
        if (request.Prompts.Count > 1)
        {
            return await RunBatchAsync(request, loaded, stdout, stderr, cancellationToken);
        }

        var prompt = request.Prompts[0];
        if (request.Json)
        {
            // With --top-logprobs, every token is listed with its log-probability and alternatives.
            List<TokenJson>? tokens = request.Options.TopLogprobs is null ? null : [];
            GenerationResult? result = null;
            await foreach (var token in generator.StreamAsync(prompt, request.Options, cancellationToken))
            {
                tokens?.Add(TokenJson.From(token, loaded.Tokenizer));
                result = token.Result ?? result;
            }

            await stdout.WriteLineAsync(JsonSerializer.Serialize(GenerateJson.From(result!, tokens), CliJsonContext.Output.GenerateJson));
            await stdout.FlushAsync(cancellationToken);
            return ExitCodes.Success;
        }

        GenerationResult? final = null;
        var streamed = false;
        try
        {
            await foreach (var token in generator.StreamAsync(prompt, request.Options, cancellationToken))
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

    /// <summary>Several prompts as one batch: each row's text (or, with --json, an array of results) once all rows end.</summary>
    private static async Task<int> RunBatchAsync(GenerateRequest request, LoadedGenerator loaded, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken)
    {
        if (loaded.Generator is not GptGenerator generator)
        {
            throw new CliUsageException("Several prompts run as a batch on the onnxgpt backend only; drop --backend genai or give one prompt.");
        }

        var results = await generator.GenerateBatchAsync(request.Prompts, [request.Options], cancellationToken);
        if (request.Json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(results.Select(r => GenerateJson.From(r)).ToList(), CliJsonContext.Output.ListGenerateJson));
        }
        else
        {
            for (var i = 0; i < results.Count; i++)
            {
                await stdout.WriteLineAsync($"[{i}] {request.Prompts[i].Text}{results[i].Text}");
                await stderr.WriteLineAsync($"[{i}] {Summary(results[i])}");
            }
        }

        await stdout.FlushAsync(cancellationToken);
        return ExitCodes.Success;
    }

    /// <summary>The stderr line after the text: <c>[64 tokens, finish: Length, 12.3 ms to first token, 250.1 tokens/s, Cpu]</c> (with <c>, 40 of 52 drafted tokens accepted</c> when speculating).</summary>
    public static string Summary(GenerationResult result) => string.Create(
        CultureInfo.InvariantCulture,
        $"[{result.GeneratedTokenCount} {(result.GeneratedTokenCount == 1 ? "token" : "tokens")}, finish: {result.FinishReason}, {result.TimeToFirstToken.TotalMilliseconds:F1} ms to first token, {result.TokensPerSecond:F1} tokens/s, {result.ExecutionProvider}{(result.DraftedTokenCount > 0 ? $", {result.AcceptedDraftTokenCount} of {result.DraftedTokenCount} drafted tokens accepted" : string.Empty)}]");
}

/// <summary>The sampling flags <c>generate</c> and <c>next-token</c> share; a flag given overrides the model's default.</summary>
internal sealed class SamplingFlags
{
    public Option<bool> Greedy { get; } = new("--greedy") { Description = "Always take the most likely token (no sampling; only the penalties, bans and biases apply)." };

    public Option<float?> Temperature { get; } = NumberOption.Create<float>("--temperature", "Sampling temperature (0 or more; 0 is greedy). Default: the model's.", "T");

    public Option<int?> TopK { get; } = NumberOption.Create<int>("--top-k", "Keep the K most likely tokens (0: off). Default: the model's.", "K");

    public Option<float?> TopP { get; } = NumberOption.Create<float>("--top-p", "Nucleus sampling: keep the most likely tokens up to probability P, in (0, 1].", "P");

    public Option<float?> MinP { get; } = NumberOption.Create<float>("--min-p", "Drop tokens below P times the top token's probability, in [0, 1].", "P");

    public Option<float?> TypicalP { get; } = NumberOption.Create<float>("--typical-p", "Locally typical sampling: keep the tokens closest to the entropy up to mass P, in (0, 1].", "P");

    public Option<float?> RepetitionPenalty { get; } = NumberOption.Create<float>("--repetition-penalty", "Penalize tokens already in the sequence, prompt included (1: off).", "R");

    public Option<float?> FrequencyPenalty { get; } = NumberOption.Create<float>("--frequency-penalty", "Subtract F per earlier occurrence of a generated token, in [-2, 2].", "F");

    public Option<float?> PresencePenalty { get; } = NumberOption.Create<float>("--presence-penalty", "Subtract P once from every token already generated, in [-2, 2].", "P");

    public Option<int?> NoRepeatNGramSize { get; } = NumberOption.Create<int>("--no-repeat-ngram-size", "Never repeat an n-gram of this size, prompt included (0: off).", "N");

    public Option<int?> MinNewTokens { get; } = NumberOption.Create<int>("--min-new-tokens", "Forbid end-of-sequence until N tokens were generated.", "N");

    public Option<string[]> LogitBias { get; } = new("--logit-bias") { Description = "Add BIAS to token ID's score (repeatable), e.g. 0=-100; -inf bans the token.", HelpName = "ID=BIAS" };

    public Option<int?> Seed { get; } = NumberOption.Create<int>("--seed", "Seed the sampler for reproducible output.", "S");

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Greedy, Temperature, TopK, TopP, MinP, TypicalP, RepetitionPenalty, FrequencyPenalty, PresencePenalty, NoRepeatNGramSize, MinNewTokens, LogitBias, Seed })
        {
            command.Options.Add(option);
        }
    }

    /// <summary>Sets the sampling settings given on the command line on <paramref name="options"/>; the others stay null (the model's defaults).</summary>
    public GenerationOptions Read(ParseResult r, GenerationOptions options)
    {
        options.DoSample = r.GetValue(Greedy) ? false : null;
        options.Temperature = r.GetValue(Temperature);
        options.TopK = r.GetValue(TopK);
        options.TopP = r.GetValue(TopP);
        options.MinP = r.GetValue(MinP);
        options.TypicalP = r.GetValue(TypicalP);
        options.RepetitionPenalty = r.GetValue(RepetitionPenalty);
        options.FrequencyPenalty = r.GetValue(FrequencyPenalty);
        options.PresencePenalty = r.GetValue(PresencePenalty);
        options.NoRepeatNGramSize = r.GetValue(NoRepeatNGramSize);
        options.MinNewTokens = r.GetValue(MinNewTokens);
        options.LogitBias = ParseLogitBias(r.GetValue(LogitBias));
        options.Seed = r.GetValue(Seed);
        return options;
    }

    /// <summary>Parses --logit-bias ID=BIAS entries (a later entry for the same id wins); null when none are given.</summary>
    /// <exception cref="CliUsageException">An entry is not ID=BIAS.</exception>
    public static Dictionary<int, float>? ParseLogitBias(string[]? entries)
    {
        if (entries is not { Length: > 0 })
        {
            return null;
        }

        var bias = new Dictionary<int, float>();
        foreach (var entry in entries)
        {
            var parts = entry.Split('=', 2, StringSplitOptions.TrimEntries);
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                || !TryParseBias(parts[1], out var value))
            {
                throw new CliUsageException($"--logit-bias takes ID=BIAS (for example --logit-bias 0=-100), but '{entry}' is not.");
            }

            bias[id] = value;
        }

        return bias;
    }

    private static bool TryParseBias(string text, out float value)
    {
        if (text.Equals("-inf", StringComparison.OrdinalIgnoreCase))
        {
            value = float.NegativeInfinity;
            return true;
        }

        return float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }
}

/// <summary>A parsed <c>generate</c> command line.</summary>
internal sealed record GenerateRequest(
    IReadOnlyList<GptPrompt> Prompts,
    string Backend,
    string? ModelPath,
    IReadOnlyList<string> ExecutionProviders,
    GenerationOptions Options,
    bool Json,
    bool Verbose,
    string? Variant = null,
    string? DraftModelPath = null);
