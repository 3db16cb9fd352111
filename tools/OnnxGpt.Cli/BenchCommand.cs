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
        var promptTokens = NumberOption.Create<int>("--prompt-tokens", BenchmarkSettings.DefaultPromptLength, "Prompt length in tokens.", "N");
        var newTokens = NumberOption.Create<int>("--new-tokens", BenchmarkSettings.DefaultNewTokens, "Tokens to generate per run.", "N");
        var runs = NumberOption.Create<int>("--runs", 3, "Measured runs per implementation (medians are reported).", "N");
        var early = NumberOption.Create<int>("--early", "Position of the early per-token time. Default: 32.", "N");
        var late = NumberOption.Create<int>("--late", "Position of the late per-token time. Default: min(900, context - 32).", "N");
        var implementations = new Option<string[]>("--implementation", "-i") { Description = "Implementations to run (repeatable): onnxgpt, onnxgpt-managed (OnnxGpt with its session runs through ONNX Runtime's managed API), onnxgpt-nobatch (OnnxGpt with EnableBatching = false), onnxgpt-asis (OnnxGpt with OptimizeGraph = false: the graph as stored), ort-naive, ort-tight, genai, llamasharp (llama.cpp on a GGUF written from the same weights; GPT-2 graphs). Default: all but llamasharp, onnxgpt-managed, onnxgpt-nobatch and onnxgpt-asis.", HelpName = "NAME" };
        var gguf = new Option<string[]>("--gguf") { Description = "GGUF weight types for llamasharp (repeatable, one row each): F32, Q8_0, Q4_0. Default: F32. Written from the folder's float32 model.onnx into gguf/model-TYPE.gguf when missing.", HelpName = "TYPE", AllowMultipleArgumentsPerToken = true };
        var threads = NumberOption.Create<int>("--threads", "ONNX Runtime intra-op threads for every implementation. Default: OnnxGpt's choice, one per core this process may use; 0: ONNX Runtime's own default.", "N");
        var provider = new Option<string?>("--execution-provider") { Description = "Run OnnxGpt on this provider (Cpu, Cuda, DirectML; required to load). The other implementations run on the CPU, so with a GPU provider only OnnxGpt runs unless --implementation says otherwise.", HelpName = "NAME" };
        var variant = new Option<string[]>("--variant")
        {
            Description = "The graph variant to run (model_NAME.onnx; '-' for model.onnx). Repeatable: each variant of each --model is measured in turn in this run, one report each, in the order given (repeat them, e.g. - fused - fused, to interleave). Default: model.onnx.",
            HelpName = "NAME",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = CommonOptions.Json();
        var sessionConfig = new Option<string[]>("--session-config") { Description = "An ONNX Runtime session config entry KEY=VALUE for OnnxGpt and the ONNX Runtime loops (repeatable), e.g. session.intra_op.allow_spinning=0.", HelpName = "KEY=VALUE" };
        var tightConfig = new Option<string[]>("--tight-config") { Description = "An extra ORT tight row with these settings, KEY=VALUE[,KEY=VALUE...] (repeatable): session config keys, or memory_pattern=0|1, cpu_mem_arena=0|1, threads=N, profile=PREFIX (ONNX Runtime's per-node profile, PREFIX_date.json).", HelpName = "ENTRIES" };
        var stepTimes = new Option<bool>("--step-times") { Description = "List every decode step's time (first measured run of each implementation) in the JSON report." };
        var command = new Command("bench", "Measure OnnxGpt against ONNX Runtime loops and onnxruntime-genai on the same graph: time to first token, decode tokens/s, per-token time early and late, allocations, memory, and the bandwidth ceiling.")
        {
            models, variant, promptTokens, newTokens, runs, early, late, implementations, gguf, threads, provider, json, stepTimes, sessionConfig, tightConfig,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var onProvider = r.GetValue(provider);
            var gpu = onProvider is not null && !onProvider.Equals("Cpu", StringComparison.OrdinalIgnoreCase);
            var selected = gpu && r.GetValue(implementations) is not { Length: > 0 }
                ? BenchmarkImplementations.OnnxGpt
                : ParseImplementations(r.GetValue(implementations));
            var ggufTypes = ParseGgufTypes(r.GetValue(gguf));
            if (r.GetValue(gguf) is { Length: > 0 } && !selected.HasFlag(BenchmarkImplementations.LlamaSharp))
            {
                selected |= BenchmarkImplementations.LlamaSharp;
            }
            var folders = r.GetValue(models) is { Length: > 0 } given ? given : [CommonOptions.DefaultModelPath];
            var reports = new List<BenchmarkReport>();
            var stderr = r.InvocationConfiguration.Error;
            var variants = r.GetValue(variant) is { Length: > 0 } named ? named.Select(v => v is "-" or "" ? null : v).ToArray() : [null];
            foreach (var (folder, graphVariant) in folders.SelectMany(f => variants.Select(v => (f, v))))
            {
                if (!Directory.Exists(folder))
                {
                    throw new CliUsageException($"No model folder at '{folder}'.");
                }

                await WriteWeightsAsync(folder, stderr, ct);
                var settings = new BenchmarkSettings
                {
                    ModelDirectory = folder,
                    Variant = graphVariant,
                    PromptLength = r.GetValue(promptTokens),
                    NewTokens = r.GetValue(newTokens),
                    MeasuredRuns = r.GetValue(runs),
                    EarlyPosition = r.GetValue(early),
                    LatePosition = r.GetValue(late),
                    Implementations = selected,
                    GgufTypes = ggufTypes,
                    IntraOpThreads = r.GetValue(threads),
                    ExecutionProvider = onProvider,
                    IncludeTokenIds = false,
                    IncludeStepTimes = r.GetValue(stepTimes),
                    SessionConfigEntries = ParseSessionConfig(r.GetValue(sessionConfig)),
                    TightLoopConfigurations = [.. (r.GetValue(tightConfig) ?? []).Select(c => (IReadOnlyDictionary<string, string>)ParseSessionConfig(c.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), "--tight-config")!)],
                };
                reports.Add(await BenchmarkRunner.RunAsync(settings, new Progress<string>(line => stderr.WriteLine(line)), ct));
            }

            await WriteReportsAsync(r.InvocationConfiguration.Output, r.GetValue(json), reports, x => x.ToJson(), (x, console) => x.WriteTable(console), ct);
            return reports.All(x => x.IdsMatch != false) ? ExitCodes.Success : ExitCodes.Failure;
        });

        command.Subcommands.Add(CreatePrepare());
        command.Subcommands.Add(CreateTokenizer());
        command.Subcommands.Add(CreateConcurrency());
        command.Subcommands.Add(CreateSpeculative());
        command.Subcommands.Add(CreateCold());
        return command;
    }

    private static Command CreateSpeculative()
    {
        var models = new Option<string[]>("--model", "-m") { Description = "A model folder to measure (repeatable). Default: the embedded tiny-shakespeare model; benchmark graphs get their weights written when missing.", HelpName = "DIR" };
        var draft = new Option<string?>("--draft-model") { Description = "Also measure this draft model (same tokenizer; e.g. the int4 output of onnxgpt quantize), for the first --model.", HelpName = "DIR" };
        var corpus = new Option<string>("--corpus") { Description = "The text the passage comes from. Default: tests/fixtures/data/tinyshakespeare.txt.", HelpName = "FILE" };
        var passage = NumberOption.Create<int>("--passage-tokens", 200, "Tokens of the passage (cut to fit the context).", "N");
        var newTokens = NumberOption.Create<int>("--new-tokens", 128, "Tokens to generate per run.", "N");
        var lookup = NumberOption.Create<int>("--prompt-lookup", 10, "Prompt lookup's most drafted tokens.", "N");
        var draftTokens = NumberOption.Create<int>("--draft-tokens", "The draft model's most drafted tokens. Default: 8.", "N");
        var runs = NumberOption.Create<int>("--runs", 3, "Measured rounds (medians are reported).", "N");
        var json = CommonOptions.Json();
        var command = new Command("speculative", "Speculative decoding on a copy task (a passage followed by its first tokens): plain greedy, prompt lookup and a draft model in turns, with speedups and whether the ids are identical.")
        {
            models, draft, corpus, passage, newTokens, lookup, draftTokens, runs, json,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var text = r.GetValue(corpus) ?? Path.Combine("tests", "fixtures", "data", "tinyshakespeare.txt");
            if (!File.Exists(text))
            {
                throw new CliUsageException($"No corpus at '{text}'; pass --corpus FILE.");
            }

            var stderr = r.InvocationConfiguration.Error;
            var reports = new List<SpeculativeReport>();
            var folders = r.GetValue(models) is { Length: > 0 } m ? m : [CommonOptions.DefaultModelPath];
            for (var i = 0; i < folders.Length; i++)
            {
                if (!Directory.Exists(folders[i]))
                {
                    throw new CliUsageException($"No model folder at '{folders[i]}'.");
                }

                await WriteWeightsAsync(folders[i], stderr, ct);
                reports.Add(await SpeculativeBenchmark.RunAsync(folders[i], i == 0 ? r.GetValue(draft) : null, text, r.GetValue(passage), r.GetValue(newTokens), r.GetValue(lookup), r.GetValue(draftTokens), r.GetValue(runs), new Progress<string>(line => stderr.WriteLine(line)), ct));
            }

            await WriteReportsAsync(r.InvocationConfiguration.Output, r.GetValue(json), reports, x => x.ToJson(), (x, console) => x.WriteTable(console), ct);
            return reports.All(x => x.IdsMatch) ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    private static Command CreateCold()
    {
        var model = new Option<string>("--model", "-m") { Description = "The model folder. Default: the embedded tiny-shakespeare model.", HelpName = "DIR" };
        var prompt = new Option<string>("--prompt", "-p") { Description = "The prompt.", HelpName = "TEXT", DefaultValueFactory = _ => "ROMEO:" };
        var newTokens = NumberOption.Create<int>("--new-tokens", 128, "Tokens each process generates.", "N");
        var runs = NumberOption.Create<int>("--runs", 5, "Processes per configuration (medians are reported).", "N");
        var env = new Option<string[]>("--env") { Description = "A configuration to compare with the default (repeatable): LABEL=KEY=VALUE[,KEY=VALUE...] environment variables for its processes, e.g. nopgo=DOTNET_TieredPGO=0.", HelpName = "LABEL=VARS" };
        var executables = new Option<string[]>("--executable") { Description = "Another onnxgpt to compare with this one (repeatable): LABEL=PATH, e.g. r2r=publish/onnxgpt (a ReadyToRun publish).", HelpName = "LABEL=PATH" };
        var json = CommonOptions.Json();
        var command = new Command("cold", "Cold runs as a user types them: a new onnxgpt generate process per run, timed from its start to its first token, its decode rate and its whole life; configurations (environment variables) take turns.")
        {
            model, prompt, newTokens, runs, env, executables, json,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var folder = Path.GetFullPath(r.GetValue(model) ?? CommonOptions.DefaultModelPath);
            if (!Directory.Exists(folder))
            {
                throw new CliUsageException($"No model folder at '{folder}'.");
            }

            var (executable, prefix) = ThisExecutable();
            var configurations = (r.GetValue(env) ?? []).Select(ParseEnvironment).ToList();
            foreach (var other in r.GetValue(executables) ?? [])
            {
                var equals = other.IndexOf('=', StringComparison.Ordinal);
                if (equals <= 0 || !File.Exists(other[(equals + 1)..]))
                {
                    throw new CliUsageException($"--executable '{other}': expected LABEL=PATH of an existing file.");
                }

                configurations.Add(new ColdRunConfiguration(other[..equals], new Dictionary<string, string>(), Path.GetFullPath(other[(equals + 1)..])));
            }

            var stderr = r.InvocationConfiguration.Error;
            var report = await ColdRunBenchmark.RunAsync(executable, prefix, folder, r.GetValue(prompt)!, r.GetValue(newTokens), r.GetValue(runs), configurations, new Progress<string>(line => stderr.WriteLine(line)), ct);
            await WriteReportsAsync(r.InvocationConfiguration.Output, r.GetValue(json), [report], x => x.ToJson(), (x, console) => x.WriteTable(console), ct);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The command that runs this CLI again: its app host, or <c>dotnet</c> with its assembly.</summary>
    private static (string Executable, string[] Prefix) ThisExecutable()
    {
        var path = Environment.ProcessPath ?? throw new CliUsageException("Cannot tell which executable runs onnxgpt.");
        return string.Equals(Path.GetFileNameWithoutExtension(path), "dotnet", StringComparison.OrdinalIgnoreCase)
            ? (path, [typeof(BenchCommand).Assembly.Location])
            : (path, []);
    }

    /// <summary>Parses <c>LABEL=KEY=VALUE[,KEY=VALUE...]</c>.</summary>
    internal static ColdRunConfiguration ParseEnvironment(string text)
    {
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0 || equals == text.Length - 1)
        {
            throw new CliUsageException($"--env '{text}': expected LABEL=KEY=VALUE[,KEY=VALUE...], e.g. nopgo=DOTNET_TieredPGO=0.");
        }

        var variables = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in text[(equals + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var split = pair.IndexOf('=', StringComparison.Ordinal);
            if (split <= 0)
            {
                throw new CliUsageException($"--env '{text}': '{pair}' is not KEY=VALUE.");
            }

            variables[pair[..split]] = pair[(split + 1)..];
        }

        return new ColdRunConfiguration(text[..equals], variables);
    }

    private static Command CreateTokenizer()
    {
        var model = new Option<string>("--model", "-m") { Description = "A model folder with tokenizer.json. Default: the embedded tiny-shakespeare model.", HelpName = "DIR" };
        var corpus = new Option<string>("--corpus") { Description = "A UTF-8 text file, encoded line by line. Default: tests/fixtures/data/tinyshakespeare.txt.", HelpName = "FILE" };
        var runs = NumberOption.Create<int>("--runs", 3, "Measured runs (medians are reported).", "N");
        var json = CommonOptions.Json();
        var command = new Command("tokenizer", "Measure tokenizer.json load time and encode throughput against Hugging Face's tokenizers library (Rust) on the same file and corpus.")
        {
            model, corpus, runs, json,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var folder = r.GetValue(model) ?? CommonOptions.DefaultModelPath;
            var text = r.GetValue(corpus) ?? Path.Combine("tests", "fixtures", "data", "tinyshakespeare.txt");
            if (!File.Exists(Path.Combine(folder, "tokenizer.json")))
            {
                throw new CliUsageException($"No tokenizer.json in '{folder}'.");
            }

            if (!File.Exists(text))
            {
                throw new CliUsageException($"No corpus at '{text}'; pass --corpus FILE.");
            }

            var stderr = r.InvocationConfiguration.Error;
            var report = TokenizerBenchmark.Run(folder, text, r.GetValue(runs), new Progress<string>(line => stderr.WriteLine(line)));
            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(report.ToJson());
            }
            else
            {
                await stdout.WriteLineAsync($"{report.Model}: {report.Tokenizer}");
                await stdout.WriteLineAsync($"corpus: {report.Lines} lines, {report.Bytes / 1e6:F2} MB, ids {(report.IdsMatch ? "identical" : "DIFFER")}");
                await stdout.WriteLineAsync($"{"",-26} {"load (ms)",10} {"encode (MB/s)",14}");
                await stdout.WriteLineAsync($"{"OnnxGpt",-26} {report.LoadMilliseconds,10:F0} {report.MegabytesPerSecond,14:F2}");
                await stdout.WriteLineAsync($"{"Hugging Face tokenizers",-26} {report.OracleLoadMilliseconds,10:F0} {report.OracleMegabytesPerSecond,14:F2}");
            }

            await stdout.FlushAsync(ct);
            return report.IdsMatch ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }

    private static Command CreateConcurrency()
    {
        var models = new Option<string[]>("--model", "-m") { Description = "A model folder to measure (repeatable). Default: the embedded tiny-shakespeare model; benchmark graphs get their weights written when missing.", HelpName = "DIR" };
        var streams = NumberOption.CreateList("--streams", "Concurrent stream counts (repeatable or comma-separated). Default: 1, 2, 4, 8, 16.", "N");
        var promptTokens = NumberOption.Create<int>("--prompt-tokens", 16, "Prompt length of each stream in tokens.", "N");
        var newTokens = NumberOption.Create<int>("--new-tokens", 64, "Tokens each stream generates.", "N");
        var threads = NumberOption.Create<int>("--threads", "ONNX Runtime intra-op threads. Default: OnnxGpt's choice, one per core this process may use; 0: ONNX Runtime's own default.", "N");
        var burstOnly = new Option<bool>("--burst-only") { Description = "Measure only the burst (every stream starts one request at once), not the closed loop after it (each client starts its next request when its previous one ends)." };
        var json = CommonOptions.Json();
        var command = new Command("concurrency", "Concurrent greedy streams with continuous batching on and off: aggregate and per-stream decode tokens/s, time to first token p50/p99, at each stream count, as a burst and as a closed loop.")
        {
            models, streams, promptTokens, newTokens, threads, burstOnly, json,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var counts = r.GetValue(streams) is { Length: > 0 } given ? given : [.. ConcurrencyBenchmark.DefaultStreams];
            if (counts.Any(c => c < 1) || r.GetValue(newTokens) < 2 || r.GetValue(promptTokens) < 1)
            {
                throw new CliUsageException("--streams must be 1 or more, --new-tokens 2 or more and --prompt-tokens 1 or more.");
            }

            var stderr = r.InvocationConfiguration.Error;
            var reports = new List<ConcurrencyReport>();
            foreach (var folder in r.GetValue(models) is { Length: > 0 } m ? m : [CommonOptions.DefaultModelPath])
            {
                if (!Directory.Exists(folder))
                {
                    throw new CliUsageException($"No model folder at '{folder}'.");
                }

                await WriteWeightsAsync(folder, stderr, ct);
                reports.Add(await ConcurrencyBenchmark.RunAsync(folder, counts, r.GetValue(promptTokens), r.GetValue(newTokens), r.GetValue(threads), !r.GetValue(burstOnly), new Progress<string>(line => stderr.WriteLine(line)), ct));
            }

            await WriteReportsAsync(r.InvocationConfiguration.Output, r.GetValue(json), reports, x => x.ToJson(), (x, console) => x.WriteTable(console), ct);
            return ExitCodes.Success;
        });
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
                "ONNXGPT-MANAGED" => BenchmarkImplementations.OnnxGptManaged,
                "ONNXGPT-NOBATCH" => BenchmarkImplementations.OnnxGptNoBatching,
                "ONNXGPT-ASIS" => BenchmarkImplementations.OnnxGptAsStored,
                "GENAI" => BenchmarkImplementations.GenAI,
                "LLAMASHARP" => BenchmarkImplementations.LlamaSharp,
                _ => throw new CliUsageException($"Unknown --implementation '{name}'; use onnxgpt, onnxgpt-managed, onnxgpt-nobatch, onnxgpt-asis, ort-naive, ort-tight, genai or llamasharp."),
            };
        }

        return result;
    }

    private static OnnxGpt.Onnx.Gguf.GgmlType[] ParseGgufTypes(string[]? names)
    {
        if (names is not { Length: > 0 })
        {
            return [OnnxGpt.Onnx.Gguf.GgmlType.F32];
        }

        return [.. names.SelectMany(n => n.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).Select(name => name.ToUpperInvariant() switch
        {
            "F32" => OnnxGpt.Onnx.Gguf.GgmlType.F32,
            "Q8_0" => OnnxGpt.Onnx.Gguf.GgmlType.Q8_0,
            "Q4_0" => OnnxGpt.Onnx.Gguf.GgmlType.Q4_0,
            _ => throw new CliUsageException($"Unknown --gguf '{name}'; use F32, Q8_0 or Q4_0."),
        })];
    }

    /// <summary>KEY=VALUE pairs as a dictionary (a later key wins); null when none were given.</summary>
    private static Dictionary<string, string>? ParseSessionConfig(string[]? entries, string flag = "--session-config")
    {
        if (entries is not { Length: > 0 })
        {
            return null;
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in entries)
        {
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliUsageException($"{flag} '{entry}' is not KEY=VALUE.");
            }

            result[entry[..equals].Trim()] = entry[(equals + 1)..].Trim();
        }

        return result;
    }

    /// <summary>Prints benchmark reports: one JSON value (an array for several), or a plain-text table per report.</summary>
    private static async Task WriteReportsAsync<T>(TextWriter stdout, bool json, IReadOnlyList<T> reports, Func<T, string> toJson, Action<T, IAnsiConsole> writeTable, CancellationToken ct)
    {
        if (json)
        {
            await stdout.WriteLineAsync(reports.Count == 1 ? toJson(reports[0]) : "[" + string.Join(",", reports.Select(toJson)) + "]");
        }
        else
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
            console.Profile.Width = 120;
            foreach (var report in reports)
            {
                writeTable(report, console);
            }
        }

        await stdout.FlushAsync(ct);
    }
}
