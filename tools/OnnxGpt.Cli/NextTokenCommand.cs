using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Cli;

/// <summary>
/// <c>onnxgpt next-token</c>: runs the prompt once and shows the distribution the first generated token would be drawn
/// from, after the sampling stages: the most likely tokens with their probability, and how many remain allowed.
/// </summary>
internal static class NextTokenCommand
{
    /// <summary>The width of a bar for probability 1, in characters.</summary>
    private const int BarWidth = 40;

    /// <param name="stdin">Piped standard input, where the prompt comes from when PROMPT is - or no prompt is given; null for a terminal.</param>
    public static Command Create(TextReader? stdin)
    {
        var prompt = new Argument<string?>("PROMPT")
        {
            Description = "The prompt text; - or nothing reads it from piped standard input. Give it or --prompt-ids, not both.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "The prompt as comma-separated token ids, fed as they are (e.g. 859,26).", HelpName = "IDS" };
        var model = CommonOptions.Model();
        var sampling = new SamplingFlags();
        var top = NumberOption.Create<int>("--top", 10, "How many of the most likely tokens to show (default 10).", "N");
        var providers = CommonOptions.ExecutionProviders();
        var json = CommonOptions.Json();

        var command = new Command("next-token", "Show the distribution of the next token after the sampling stages: the most likely tokens, their probabilities, and how many remain allowed.")
        {
            prompt, promptIds, model,
        };
        sampling.AddTo(command);
        command.Options.Add(top);
        command.Options.Add(providers);
        command.Options.Add(json);

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var options = sampling.Read(r, new GenerationOptions());
            var count = r.GetValue(top);
            if (count < 1)
            {
                throw new CliUsageException($"--top must be 1 or more, but was {count}.");
            }

            // Settings are checked before the model loads, so a typo fails fast (exit 2, naming the setting).
            options.Validate();
            var request = GenerateCommand.BuildPrompt(r.GetValue(prompt), r.GetValue(promptIds), stdin);
            using var loggerFactory = ModelLoader.CreateLoggerFactory(r.GetValue(CommonOptions.Verbose), r.InvocationConfiguration.Error);
            using var loaded = ModelLoader.Load(r.GetValue(model), r.GetValue(providers), loggerFactory);
            var generator = GptGenerator.Create(loaded, loggerFactory);
            var distribution = await generator.GetNextTokenDistributionAsync(request, options, ct);

            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(ToJson(distribution, count), CliJsonContext.Output.NextTokenJson));
            }
            else
            {
                await stdout.WriteAsync(Render(distribution, count));
            }

            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }

    public static NextTokenJson ToJson(NextTokenDistribution distribution, int count)
    {
        var top = new List<NextTokenTopJson>();
        foreach (var t in distribution.GetTop(count))
        {
            top.Add(new NextTokenTopJson(t.Id, t.Text, t.Probability, t.Logprob));
        }

        return new NextTokenJson(distribution.PromptTokenIds, distribution.IsSampling, distribution.VocabularySize, distribution.AllowedTokenIds, distribution.Probabilities, top);
    }

    /// <summary>The text report: a header line, then one line per token (rank, id, text, probability, bar).</summary>
    public static string Render(NextTokenDistribution distribution, int count)
    {
        var top = distribution.GetTop(count);
        var texts = new string[top.Count];
        var more = distribution.AllowedTokenIds.Count > top.Count ? $"({distribution.AllowedTokenIds.Count - top.Count} more)" : null;
        var width = Math.Max(5, more?.Length ?? 0);
        for (var i = 0; i < top.Count; i++)
        {
            texts[i] = Escape(top[i].Text);
            width = Math.Max(width, texts[i].Length);
        }

        var c = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        var stages = distribution.Stages.Count == 0 ? "none" : string.Join(" > ", distribution.Stages.Select(Describe));
        text.Append(c, $"{distribution.AllowedTokenIds.Count} of {distribution.VocabularySize} tokens allowed after {distribution.PromptTokenIds.Count} prompt tokens ({(distribution.IsSampling ? "sampling" : "greedy")}; stages: {stages})").AppendLine();
        text.Append(c, $"{"#",4}  {"id",6}  {"token".PadRight(width)}  {"prob",7}").AppendLine();
        for (var i = 0; i < top.Count; i++)
        {
            var t = top[i];
            text.Append(string.Create(c, $"{i + 1,4}  {t.Id,6}  {texts[i].PadRight(width)}  {t.Probability * 100,6:F2}%  {Bar(t.Probability)}").TrimEnd()).AppendLine();
        }

        if (more is not null)
        {
            var rest = 1.0;
            foreach (var t in top)
            {
                rest -= t.Probability;
            }

            text.Append(c, $"{string.Empty,4}  {string.Empty,6}  {more.PadRight(width)}  {Math.Max(0, rest) * 100,6:F2}%").AppendLine();
        }

        return text.ToString();
    }

    /// <summary>A token's text in quotes, with newlines, tabs, quotes and other control characters escaped visibly.</summary>
    public static string Escape(string text)
    {
        var escaped = new StringBuilder("\"");
        foreach (var ch in text)
        {
            escaped.Append(ch switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '"' => "\\\"",
                '\\' => "\\\\",
                _ when char.IsControl(ch) => string.Create(CultureInfo.InvariantCulture, $"\\u{(int)ch:x4}"),
                _ => ch.ToString(),
            });
        }

        return escaped.Append('"').ToString();
    }

    /// <summary>A horizontal bar of <see cref="BarWidth"/> eighths-resolution blocks for probability 1.</summary>
    public static string Bar(float probability)
    {
        var eighths = (int)Math.Round(Math.Clamp(probability, 0f, 1f) * BarWidth * 8, MidpointRounding.AwayFromZero);
        var bar = new string('█', eighths / 8);
        return eighths % 8 == 0 ? bar : bar + "▏▎▍▌▋▊▉"[(eighths % 8) - 1];
    }

    private static string Describe(ISamplingStage stage) => stage switch
    {
        RepetitionPenaltyStage s => string.Create(CultureInfo.InvariantCulture, $"repetition-penalty {s.Penalty}"),
        FrequencyPresencePenaltyStage s => string.Create(CultureInfo.InvariantCulture, $"frequency {s.FrequencyPenalty}/presence {s.PresencePenalty}"),
        NoRepeatNGramStage s => string.Create(CultureInfo.InvariantCulture, $"no-repeat-ngram {s.NGramSize}"),
        BannedSequencesStage s => string.Create(CultureInfo.InvariantCulture, $"banned {s.Sequences.Count}"),
        MinNewTokensStage s => string.Create(CultureInfo.InvariantCulture, $"min-new-tokens {s.MinNewTokens}"),
        LogitBiasStage s => string.Create(CultureInfo.InvariantCulture, $"logit-bias {s.Bias.Count}"),
        TemperatureStage s => string.Create(CultureInfo.InvariantCulture, $"temperature {s.Temperature}"),
        TopKStage s => string.Create(CultureInfo.InvariantCulture, $"top-k {s.TopK}"),
        TopPStage s => string.Create(CultureInfo.InvariantCulture, $"top-p {s.TopP}"),
        MinPStage s => string.Create(CultureInfo.InvariantCulture, $"min-p {s.MinP}"),
        TypicalPStage s => string.Create(CultureInfo.InvariantCulture, $"typical-p {s.Mass}"),
        _ => stage.GetType().Name,
    };
}
