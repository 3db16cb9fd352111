using System.CommandLine;
using OnnxGpt.Bench;
using Spectre.Console;

namespace OnnxGpt.Cli;

/// <summary>
/// <c>onnxgpt bench</c>: OnnxGpt against a plain and a tight ONNX Runtime loop and onnxruntime-genai, on the same
/// graph, prompt and token count; <c>onnxgpt bench prepare</c> writes the benchmark graphs' weights from their manifests.
/// </summary>
internal static class BenchCommand
{
    /// <summary>The benchmark graphs shipped without weights, relative to the repository root.</summary>
    private static readonly string[] BenchModels = [Path.Combine("models", "bench", "gpt2-124m"), Path.Combine("models", "bench", "llama-135m")];

    public static Command Create()
    {
        var models = new Option<string[]>("--model", "-m") { Description = "A model folder to measure (repeatable). Default: the embedded tiny-shakespeare model. Benchmark graphs: models/bench/gpt2-124m, models/bench/llama-135m (weights are written when missing).", HelpName = "DIR" };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "Prompt length in tokens.", DefaultValueFactory = _ => BenchmarkSettings.DefaultPromptLength };
        var newTokens = new Option<int>("--new-tokens") { Description = "Tokens to generate per run.", DefaultValueFactory = _ => BenchmarkSettings.DefaultNewTokens };
        var runs = new Option<int>("--runs") { Description = "Measured runs per implementation (medians are reported).", DefaultValueFactory = _ => 3 };
        var early = new Option<int?>("--early") { Description = "Position of the early per-token time. Default: 32." };
        var late = new Option<int?>("--late") { Description = "Position of the late per-token time. Default: min(900, context - 32)." };
        var implementations = new Option<string[]>("--implementation", "-i") { Description = "Implementations to run (repeatable): onnxgpt, ort-naive, ort-tight, genai. Default: all.", HelpName = "NAME" };
        var threads = new Option<int?>("--threads") { Description = "ONNX Runtime intra-op threads for every implementation. Default: OnnxGpt's choice, one per core this process may use; 0: ONNX Runtime's own default." };
        var provider = new Option<string?>("--execution-provider") { Description = "Run OnnxGpt on this provider (Cpu, Cuda, DirectML; required to load). The other implementations run on the CPU, so with a GPU provider only OnnxGpt runs unless --implementation says otherwise.", HelpName = "NAME" };
        var json = CommonOptions.Json();
        var command = new Command("bench", "Measure OnnxGpt against ONNX Runtime loops and onnxruntime-genai on the same graph: time to first token, decode tokens/s, per-token time early and late, allocations, memory, and the bandwidth ceiling.")
        {
            models, promptTokens, newTokens, runs, early, late, implementations, threads, provider, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var onProvider = r.GetValue(provider);
            var gpu = onProvider is not null && !onProvider.Equals("Cpu", StringComparison.OrdinalIgnoreCase);
            var selected = gpu && r.GetValue(implementations) is not { Length: > 0 }
                ? BenchmarkImplementations.OnnxGpt
                : ParseImplementations(r.GetValue(implementations));
            var folders = r.GetValue(models) is { Length: > 0 } given ? given : [CommonOptions.DefaultModelPath];
            var reports = new List<BenchmarkReport>();
            var stderr = r.InvocationConfiguration.Error;
            foreach (var folder in folders)
            {
                if (!Directory.Exists(folder))
                {
                    throw new CliUsageException($"No model folder at '{folder}'.");
                }

                await WriteWeightsAsync(folder, stderr, ct);
                var settings = new BenchmarkSettings
                {
                    ModelDirectory = folder,
                    PromptLength = r.GetValue(promptTokens),
                    NewTokens = r.GetValue(newTokens),
                    MeasuredRuns = r.GetValue(runs),
                    EarlyPosition = r.GetValue(early),
                    LatePosition = r.GetValue(late),
                    Implementations = selected,
                    IntraOpThreads = r.GetValue(threads),
                    ExecutionProvider = onProvider,
                    IncludeTokenIds = false,
                };
                reports.Add(await BenchmarkRunner.RunAsync(settings, new Progress<string>(line => stderr.WriteLine(line)), ct));
            }

            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(reports.Count == 1 ? reports[0].ToJson() : "[" + string.Join(",", reports.Select(x => x.ToJson())) + "]");
            }
            else
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
                console.Profile.Width = 120;
                foreach (var report in reports)
                {
                    report.WriteTable(console);
                }
            }

            await stdout.FlushAsync(ct);
            return reports.All(x => x.IdsMatch != false) ? ExitCodes.Success : ExitCodes.Failure;
        });

        command.Subcommands.Add(CreatePrepare());
        return command;
    }

    private static Command CreatePrepare()
    {
        var models = new Option<string[]>("--model", "-m") { Description = "A benchmark folder with weights.manifest.json (repeatable). Default: models/bench/gpt2-124m and models/bench/llama-135m.", HelpName = "DIR" };
        var command = new Command("prepare", "Write the benchmark graphs' weights (model.onnx.data) from their weights.manifest.json when missing.") { models };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var folders = r.GetValue(models) is { Length: > 0 } given ? given : BenchModels;
            foreach (var folder in folders)
            {
                if (!File.Exists(Path.Combine(folder, "weights.manifest.json")))
                {
                    throw new CliUsageException($"'{folder}' has no weights.manifest.json; run from the repository root or pass --model.");
                }

                var wrote = await WriteWeightsAsync(folder, r.InvocationConfiguration.Error, ct);
                await r.InvocationConfiguration.Output.WriteLineAsync($"{folder}: {(wrote ? "weights written" : "weights already complete")}");
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Writes a benchmark graph's weights when they are missing, with a progress bar on stderr.</summary>
    private static async Task<bool> WriteWeightsAsync(string folder, TextWriter stderr, CancellationToken ct)
    {
        if (!File.Exists(Path.Combine(folder, "weights.manifest.json")) || WeightsWriter.IsComplete(folder))
        {
            return false;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stderr) });
        var wrote = false;
        await console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}: model.onnx.data", maxValue: 1.0);
                wrote = await WeightsWriter.EnsureAsync(folder, new Progress<double>(p => task.Value = p), ct);
                task.Value = 1.0;
            });
        return wrote;
    }

    private static BenchmarkImplementations ParseImplementations(string[]? names)
    {
        if (names is not { Length: > 0 })
        {
            return BenchmarkImplementations.All;
        }

        var result = BenchmarkImplementations.None;
        foreach (var name in names.SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            result |= name.ToUpperInvariant() switch
            {
                "ONNXGPT" => BenchmarkImplementations.OnnxGpt,
                "ORT-NAIVE" => BenchmarkImplementations.OrtNaive,
                "ORT-TIGHT" => BenchmarkImplementations.OrtTight,
                "GENAI" => BenchmarkImplementations.GenAI,
                _ => throw new CliUsageException($"Unknown --implementation '{name}'; use onnxgpt, ort-naive, ort-tight or genai."),
            };
        }

        return result;
    }
}
