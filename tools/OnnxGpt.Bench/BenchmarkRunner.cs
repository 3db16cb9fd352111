using OnnxGpt.Providers;
using System.Diagnostics;
using System.Globalization;

namespace OnnxGpt.Bench;

/// <summary>
/// Compares generation loops on one graph in one process: OnnxGpt's public API, a naive and a tight plain ONNX Runtime
/// loop, and ONNX Runtime GenAI, all greedy on the same prompt for the same number of tokens. Implementations run one
/// after the other (never concurrently), each loaded, warmed up, measured and disposed before the next.
/// </summary>
public static class BenchmarkRunner
{
    private const ulong PromptSeed = 0x5EED_0F_B3_4C_4D_2025UL;

    /// <summary>Runs the benchmark.</summary>
    /// <param name="settings">The model folder, prompt, token counts, runs and implementations.</param>
    /// <param name="status">Receives a line before each phase (loading, warm-up, each run); null reports nothing. Reports are never made while a run is being timed.</param>
    /// <param name="cancellationToken">Stops the benchmark between tokens.</param>
    /// <returns>The report.</returns>
    /// <exception cref="ArgumentException">A setting is out of range or the prompt does not fit the model; the message names it.</exception>
    /// <exception cref="DirectoryNotFoundException">The model folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder lacks model.onnx or genai_config.json, or its weights are missing and may not be written.</exception>
    /// <exception cref="InvalidDataException">genai_config.json or weights.manifest.json is invalid.</exception>
    public static Task<BenchmarkReport> RunAsync(BenchmarkSettings settings, IProgress<string>? status = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Validate(settings);

        // Off the caller's thread (and any synchronization context): every phase is CPU-bound.
        return Task.Run(() => RunCoreAsync(settings, status, cancellationToken), cancellationToken);
    }

    /// <summary>The default prompt: a fixed pseudo-random sequence of <paramref name="length"/> ids in [0, <paramref name="vocabularySize"/>), avoiding <paramref name="avoid"/>.</summary>
    /// <param name="length">Number of ids.</param>
    /// <param name="vocabularySize">The model's vocabulary size.</param>
    /// <param name="avoid">Ids never to use (end-of-sequence ids); may be null.</param>
    /// <returns>The ids; the same for the same arguments on every machine.</returns>
    public static int[] DefaultPrompt(int length, int vocabularySize, IReadOnlyCollection<int>? avoid = null) =>
        ExtendPrompt([], length, vocabularySize, avoid);

    private static int[] ExtendPrompt(IReadOnlyList<int> prefix, int length, int vocabularySize, IReadOnlyCollection<int>? avoid)
    {
        var ids = new int[length];
        var state = PromptSeed;
        for (var i = 0; i < length; i++)
        {
            int id;
            do
            {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                id = (int)(state % (ulong)vocabularySize);
            }
            while (avoid is not null && avoid.Contains(id) && vocabularySize > avoid.Count);

            ids[i] = i < prefix.Count ? prefix[i] : id;
        }

        return ids;
    }

    private static void Validate(BenchmarkSettings settings)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(settings.ModelDirectory, nameof(settings));
        static void Positive(int value, string name, int min)
        {
            if (value < min)
            {
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be at least {min}.");
            }
        }

        Positive(settings.NewTokens, nameof(settings.NewTokens), 1);
        Positive(settings.MeasuredRuns, nameof(settings.MeasuredRuns), 1);
        Positive(settings.WarmupRuns, nameof(settings.WarmupRuns), 0);
        Positive(settings.PositionWindow, nameof(settings.PositionWindow), 1);
        if (settings.PromptTokenIds is null)
        {
            Positive(settings.PromptLength, nameof(settings.PromptLength), 1);
        }
        else if (settings.PromptTokenIds.Count == 0)
        {
            throw new ArgumentException("PromptTokenIds must hold at least one id (or be null for the default prompt).", nameof(settings));
        }

        if (settings.IntraOpThreads is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.IntraOpThreads, "IntraOpThreads must be 0 (ONNX Runtime's default) or more, or null for OnnxGpt's choice (one per available core).");
        }

        if (settings.MeasureBandwidth && settings.BandwidthBufferBytes < 1 << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(settings), settings.BandwidthBufferBytes, "BandwidthBufferBytes must be at least 1 MiB.");
        }
    }

    private static async Task<BenchmarkReport> RunCoreAsync(BenchmarkSettings settings, IProgress<string>? status, CancellationToken cancellationToken)
    {
        var folder = ModelFolder.Read(settings.ModelDirectory, settings.Variant);
        if (folder.HasManifest && !WeightsWriter.IsComplete(folder.Directory))
        {
            if (!settings.WriteMissingWeights)
            {
                throw new FileNotFoundException($"The weights of '{folder.Directory}' are missing or incomplete; write them first with WeightsWriter.EnsureAsync (onnxgpt bench prepare).");
            }

            status?.Report($"Writing the weights of {Path.GetFileName(folder.Directory)} from {WeightsManifest.FileName}");
            await WeightsWriter.EnsureAsync(folder.Directory, null, cancellationToken).ConfigureAwait(false);
        }

        var vocabulary = folder.VocabularySize;
        var context = folder.ContextLength;
        var prompt = settings.PromptTokenIds is { } given ? [.. given] : DefaultPrompt(settings.PromptLength, vocabulary, folder.EosTokenIds);
        foreach (var id in prompt)
        {
            if ((uint)id >= (uint)vocabulary)
            {
                throw new ArgumentException($"Prompt id {id} is outside the vocabulary (0..{vocabulary - 1}).", nameof(settings));
            }
        }

        if (prompt.Length + settings.NewTokens > context)
        {
            throw new ArgumentException($"{prompt.Length} prompt tokens + {settings.NewTokens} new tokens exceed the context length {context} of '{folder.Directory}'.", nameof(settings));
        }

        var window = settings.PositionWindow;
        var early = settings.EarlyPosition ?? Math.Min(BenchmarkSettings.DefaultEarlyPosition, context - window - 1);
        var late = settings.LatePosition ?? Math.Min(BenchmarkSettings.DefaultLatePosition, context - 32);
        foreach (var (name, position) in new[] { ("EarlyPosition", early), ("LatePosition", late) })
        {
            if (position < 1 || position + window + 1 > context)
            {
                throw new ArgumentOutOfRangeException(name, position, $"{name} must leave room for {window} decode steps within the context length {context} (1..{context - window - 1}).");
            }
        }

        // Every implementation gets the same threads: OnnxGpt's choice unless the settings say otherwise.
        var threading = CpuThreading.Choose(settings.IntraOpThreads, null, CpuThreading.CoresAvailable, settings.SessionConfigEntries);
        var plan = new Plan(prompt, settings.NewTokens, window, early, late, vocabulary, folder.EosTokenIds);
        var results = new List<ImplementationReport>();
        var idsByImplementation = new List<(string Name, List<int[]> Runs)>();
        using (var sampler = new WorkingSetSampler())
        {
            // The machine's speed drifts over seconds, so the implementations take turns: each round loads, warms and
            // measures every implementation once, and the medians are taken over the rounds.
            var failed = new Dictionary<string, string>();
            var ggufs = settings.Implementations.HasFlag(BenchmarkImplementations.LlamaSharp) ? PrepareGguf(folder, settings, failed, status, cancellationToken) : [];
            var candidates = Candidates(folder, threading.IntraOpThreads, settings.ExecutionProvider, settings.SessionConfigEntries, settings.TightLoopConfigurations, ggufs).Where(c => settings.Implementations.HasFlag(c.Kind)).ToList();
            var measured = candidates.ToDictionary(c => c.Name, _ => new List<Measurement>());
            for (var round = 0; round < settings.MeasuredRuns; round++)
            {
                foreach (var (_, name, factory) in candidates)
                {
                    if (factory is null || failed.ContainsKey(name))
                    {
                        continue;
                    }

                    try
                    {
                        measured[name].Add(await MeasureAsync(name, factory, plan, settings, sampler, status, round, cancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                    {
                        failed[name] = $"{ex.GetType().Name}: {ex.Message.Trim()}";
                    }
                }
            }

            foreach (var (_, name, factory) in candidates)
            {
                if (factory is null)
                {
                    results.Add(new ImplementationReport { Name = name, Status = ImplementationStatus.Unavailable, Note = GenAiAvailability.UnavailableReason });
                }
                else if (failed.TryGetValue(name, out var reason))
                {
                    results.Add(new ImplementationReport { Name = name, Status = ImplementationStatus.Failed, Note = reason });
                }
                else
                {
                    results.Add(Combine(name, measured[name], plan, settings));
                    idsByImplementation.Add((name, [.. measured[name].SelectMany(m => m.Ids)]));
                }
            }
        }

        long processPeak;
        using (var process = Process.GetCurrentProcess())
        {
            process.Refresh();
            processPeak = process.PeakWorkingSet64;
        }

        double? bandwidth = null;
        if (settings.MeasureBandwidth)
        {
            status?.Report("Measuring memory read bandwidth");
            bandwidth = MemoryBandwidth.Measure(settings.BandwidthBufferBytes, 3, cancellationToken);
        }

        var weightBytes = folder.WeightBytes();
        var ceiling = bandwidth is { } bw && weightBytes > 0 ? bw * 1e9 / weightBytes : (double?)null;
        ImplementationReport? Find(string n) => results.FirstOrDefault(r => r.Name == n && r.Status == ImplementationStatus.Ok);
        var onnxGpt = Find(OnnxGptLoop.DisplayName);
        var tight = Find(OrtTightLoop.DisplayName);
        var naive = Find(OrtNaiveLoop.DisplayName);
        var genAi = Find(GenAiAvailability.DisplayName);
        results = [.. results.Select(r => ComparePeer(r, onnxGpt, idsByImplementation))];
        static double? Divide(double? a, double? b) => a is { } x && b is { } y && y > 0 ? x / y : null;
        var mask = MeasureJsonMask(folder, status);

        return new BenchmarkReport
        {
            Model = Path.GetFileName(folder.Directory.TrimEnd(Path.DirectorySeparatorChar)) + (settings.Variant is { } shown ? " (" + shown + ")" : ""),
            ModelDirectory = folder.Directory,
            PromptTokens = prompt.Length,
            NewTokens = settings.NewTokens,
            MeasuredRuns = settings.MeasuredRuns,
            WarmupRuns = settings.WarmupRuns,
            EarlyPosition = early,
            LatePosition = late,
            PositionWindow = window,
            IntraOpThreads = threading.IntraOpThreads,
            Threading = threading.ToString(),
            ExecutionProvider = settings.ExecutionProvider ?? "Cpu",
            ProcessorCount = Environment.ProcessorCount,
            Implementations = results,
            Ratios = new BenchmarkRatios
            {
                OnnxGptOverOrtTight = Divide(onnxGpt?.DecodeTokensPerSecond, tight?.DecodeTokensPerSecond),
                OnnxGptOverGenAi = Divide(onnxGpt?.DecodeTokensPerSecond, genAi?.DecodeTokensPerSecond),
                OnnxGptOverOrtNaive = Divide(onnxGpt?.DecodeTokensPerSecond, naive?.DecodeTokensPerSecond),
                OnnxGptTimeToFirstTokenOverOrtTight = Divide(onnxGpt?.TimeToFirstTokenMs, tight?.TimeToFirstTokenMs),
                OnnxGptLateOverEarly = Divide(onnxGpt?.PerTokenMsLate, onnxGpt?.PerTokenMsEarly),
            },
            BandwidthGBps = bandwidth,
            WeightBytes = weightBytes,
            CeilingTokensPerSecond = ceiling,
            FractionOfCeiling = Divide(onnxGpt?.DecodeTokensPerSecond, ceiling),
            ProcessPeakWorkingSetBytes = processPeak,
            IdsMatch = IdsMatch([.. idsByImplementation.Where(i => !IsPeer(i.Name))]),
            JsonMaskMs = mask?.MedianMs,
            JsonMaskWorstMs = mask?.WorstMs,
            JsonMaskVocabulary = mask?.Vocabulary,
            JsonMaskOverDecodeStep = Divide(mask?.MedianMs, onnxGpt?.DecodeTokensPerSecond is { } tps && tps > 0 ? 1000 / tps : null),
        };
    }

    /// <summary>The JSON-schema constraint's mask per step on this model's vocabulary (null without a tokenizer).</summary>
    private static (double MedianMs, double WorstMs, int Vocabulary)? MeasureJsonMask(ModelFolder folder, IProgress<string>? status)
    {
        try
        {
            using var model = OnnxGpt.Generation.GptModel.Load(folder.Directory);
            if (model.Tokenizer is null)
            {
                return null;
            }

            status?.Report("JSON constraint mask");
            return OnnxGpt.Evaluation.MaskCost.Measure(model);
        }
        catch (OnnxGpt.ModelLoadException)
        {
            return null;
        }
    }

    private static bool IsPeer(string name) => name.StartsWith(LlamaSharpLoop.DisplayName, StringComparison.Ordinal);

    /// <summary>Writes (or finds) each asked GGUF; a type that cannot be written is a failed row with the reason.</summary>
    private static List<(OnnxGpt.Onnx.Gguf.GgmlType Type, string? Path)> PrepareGguf(ModelFolder folder, BenchmarkSettings settings, Dictionary<string, string> failed, IProgress<string>? status, CancellationToken cancellationToken)
    {
        var result = new List<(OnnxGpt.Onnx.Gguf.GgmlType, string?)>();
        foreach (var type in settings.GgufTypes.Distinct())
        {
            try
            {
                result.Add((type, GgufCache.Ensure(folder.Directory, type, status, cancellationToken)));
            }
            catch (OnnxGpt.Onnx.Quantization.QuantizationException ex)
            {
                failed[$"{LlamaSharpLoop.DisplayName} {type}"] = $"no GGUF: {ex.Message}";
                result.Add((type, null));
            }
        }

        return result;
    }

    /// <summary>A LLamaSharp row with its ids compared to OnnxGpt's (main run) and OnnxGpt's speed over its own.</summary>
    private static ImplementationReport ComparePeer(ImplementationReport report, ImplementationReport? onnxGpt, List<(string Name, List<int[]> Runs)> ids)
    {
        if (!IsPeer(report.Name) || report.Status != ImplementationStatus.Ok || onnxGpt is null)
        {
            return report;
        }

        var mine = ids.First(i => i.Name == report.Name).Runs[0];
        var reference = ids.First(i => i.Name == onnxGpt.Name).Runs[0];
        var compared = Math.Min(mine.Length, reference.Length);
        var prefix = 0;
        while (prefix < compared && mine[prefix] == reference[prefix])
        {
            prefix++;
        }

        var same = 0;
        for (var i = 0; i < compared; i++)
        {
            same += mine[i] == reference[i] ? 1 : 0;
        }

        return report with
        {
            Peer = new PeerComparison
            {
            IdsCompared = compared,
            IdsEqual = same,
            CommonPrefix = prefix,
            OnnxGptDecodeSpeedup = onnxGpt.DecodeTokensPerSecond is { } a && report.DecodeTokensPerSecond is { } b && b > 0 ? a / b : null,
            OnnxGptTimeToFirstTokenRatio = onnxGpt.TimeToFirstTokenMs is { } c && report.TimeToFirstTokenMs is { } d && d > 0 ? c / d : null,
            },
        };
    }

    private static IEnumerable<(BenchmarkImplementations Kind, string Name, Func<IGenerationLoop>? Factory)> Candidates(ModelFolder folder, int? threads, string? provider, IReadOnlyDictionary<string, string>? sessionConfig, IReadOnlyList<IReadOnlyDictionary<string, string>> tightConfigurations, List<(OnnxGpt.Onnx.Gguf.GgmlType Type, string? Path)> ggufs)
    {
        yield return (BenchmarkImplementations.OnnxGpt, OnnxGptLoop.DisplayName, () => new OnnxGptLoop(folder, threads, provider, sessionConfig));
        yield return (BenchmarkImplementations.OnnxGptManaged, OnnxGptLoop.ManagedDisplayName, () => new OnnxGptLoop(folder, threads, provider, sessionConfig, managedRun: true));
        yield return (BenchmarkImplementations.OnnxGptNoBatching, OnnxGptLoop.NoBatchingDisplayName, () => new OnnxGptLoop(folder, threads, provider, sessionConfig, batching: false));
        yield return (BenchmarkImplementations.OnnxGptAsStored, OnnxGptLoop.AsStoredDisplayName, () => new OnnxGptLoop(folder, threads, provider, sessionConfig, optimizeGraph: false));
        yield return (BenchmarkImplementations.OrtNaive, OrtNaiveLoop.DisplayName, () => new OrtNaiveLoop(folder, threads, sessionConfig));
        yield return (BenchmarkImplementations.OrtTight, OrtTightLoop.DisplayName, () => new OrtTightLoop(folder, threads, sessionConfig));
        foreach (var extra in tightConfigurations)
        {
            var merged = new Dictionary<string, string>(sessionConfig ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            foreach (var (key, value) in extra)
            {
                merged[key] = value;
            }

            var label = string.Join(", ", extra.Select(e => $"{e.Key}={e.Value}"));
            yield return (BenchmarkImplementations.OrtTight, $"{OrtTightLoop.DisplayName} [{label}]", () => new OrtTightLoop(folder, threads, merged));
        }

#if ONNXGPT_GENAI
        yield return (BenchmarkImplementations.GenAI, GenAiAvailability.DisplayName, () => new GenAiLoop(folder, threads));
#else
        yield return (BenchmarkImplementations.GenAI, GenAiAvailability.DisplayName, null);
#endif
        foreach (var (type, path) in ggufs)
        {
            // A GGUF that could not be written has its failure recorded already; the factory never runs.
            yield return (BenchmarkImplementations.LlamaSharp, $"{LlamaSharpLoop.DisplayName} {type}", () => new LlamaSharpLoop(path!, type, folder.ContextLength, threads));
        }
    }

    /// <summary>True when every implementation produced the same ids as the first in every run (main and position runs).</summary>
    private static bool? IdsMatch(List<(string Name, List<int[]> Runs)> ids)
    {
        if (ids.Count < 2)
        {
            return null;
        }

        var reference = ids[0].Runs;
        return ids.All(i => i.Runs.Count == reference.Count && i.Runs.Zip(reference).All(p => p.First.AsSpan().SequenceEqual(p.Second)));
    }

    /// <summary>One round of one implementation: loaded, warmed up, then one measured run (and its position runs).</summary>
    private sealed record Measurement(RunTrace Main, double? Early, double? Late, List<int[]> Ids, long PeakWorkingSet, double LoadMs);

    private static async Task<Measurement> MeasureAsync(
        string name, Func<IGenerationLoop> factory, Plan plan, BenchmarkSettings settings, WorkingSetSampler sampler, IProgress<string>? status, int round, CancellationToken cancellationToken)
    {
        var label = $"{name}: round {round + 1}/{settings.MeasuredRuns}";
        status?.Report($"{label}: loading");
        Collect();

        // What the previous implementation (or the GGUF writer) freed leaves the working set before this one's peak
        // starts: the GC decommits its free regions (an aggressive collection), glibc its free pages.
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        NativeHeap.Trim();
        sampler.ResetPeak();
        var loadStarted = Stopwatch.GetTimestamp();
        using var loop = factory();
        var loadMs = Stopwatch.GetElapsedTime(loadStarted).TotalMilliseconds;

        for (var w = 0; w < settings.WarmupRuns; w++)
        {
            status?.Report($"{label}: warm-up {w + 1}/{settings.WarmupRuns}");
            await RunOnceAsync(loop, plan.Prompt, plan.NewTokens, sampler, cancellationToken).ConfigureAwait(false);
        }

        status?.Report($"{label}: run");
        Collect();
        var main = await RunOnceAsync(loop, plan.Prompt, plan.NewTokens, sampler, cancellationToken).ConfigureAwait(false);
        var ids = new List<int[]> { main.TokenIds };
        var positions = new double?[2];
        var index = 0;
        foreach (var position in new[] { plan.Early, plan.Late })
        {
            var fromMain = main.WindowMedianMs(position, plan.Window);
            if (fromMain is not null || plan.Reaches(position))
            {
                positions[index++] = fromMain;
                continue;
            }

            // The main run does not reach this position: a second generation with a prompt just short of it does.
            status?.Report($"{label}: per-token time at position {position.ToString(CultureInfo.InvariantCulture)}");
            var (positionPrompt, positionTokens) = plan.PositionRun(position);
            Collect();
            var trace = await RunOnceAsync(loop, positionPrompt, positionTokens, sampler, cancellationToken).ConfigureAwait(false);
            positions[index++] = trace.WindowMedianMs(position, plan.Window);
            ids.Add(trace.TokenIds);
        }

        return new Measurement(main, positions[0], positions[1], ids, sampler.Peak, loadMs);
    }

    private static ImplementationReport Combine(string name, List<Measurement> rounds, Plan plan, BenchmarkSettings settings)
    {
        var mains = rounds.Select(r => r.Main).ToList();
        var generated = mains[0].TokenIds.Length;
        string? note = null;
        if (generated < plan.NewTokens)
        {
            note = $"ended at end-of-sequence after {generated} tokens";
        }

        if (mains.Any(m => !m.TokenIds.AsSpan().SequenceEqual(mains[0].TokenIds)))
        {
            note = (note is null ? string.Empty : note + "; ") + "runs produced different ids";
        }

        return new ImplementationReport
        {
            Name = name,
            Status = ImplementationStatus.Ok,
            Note = note,
            TimeToFirstTokenMs = Statistics.Median(mains.Select(m => m.TimeToFirstTokenMs)),
            DecodeTokensPerSecond = Statistics.MedianOrNull(mains.Select(m => m.DecodeTokensPerSecond)),
            PerTokenMsEarly = Statistics.MedianOrNull(rounds.Select(r => r.Early)),
            PerTokenMsLate = Statistics.MedianOrNull(rounds.Select(r => r.Late)),
            AllocatedBytesPerToken = Statistics.MedianOrNull(mains.Select(m => m.AllocatedBytesPerToken)),
            PeakWorkingSetBytes = rounds.Max(r => r.PeakWorkingSet),
            LoadMs = Statistics.Median(rounds.Select(r => r.LoadMs)),
            GeneratedTokens = generated,
            TokenIds = settings.IncludeTokenIds ? mains[0].TokenIds : null,
            Steps = mains.Select(m => StepDistribution.Of(m.StepMs)).OfType<StepDistribution>().ToList() is { Count: > 0 } steps ? StepDistribution.Median(steps) : null,
            StepTimesMs = settings.IncludeStepTimes ? mains[0].StepMs.Skip(1).ToArray() : null,
        };
    }

    private static async Task<RunTrace> RunOnceAsync(IGenerationLoop loop, int[] prompt, int newTokens, WorkingSetSampler sampler, CancellationToken cancellationToken)
    {
        var recorder = new TokenRecorder(newTokens, sampler);
        recorder.Start();
        await loop.GenerateAsync(prompt, newTokens, recorder, cancellationToken).ConfigureAwait(false);
        return recorder.Finish(prompt.Length);
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>The prompt, token count and the per-token positions of one benchmark.</summary>
    private sealed class Plan(int[] prompt, int newTokens, int window, int early, int late, int vocabulary, IReadOnlyList<int> eos)
    {
        public int[] Prompt { get; } = prompt;

        public int NewTokens { get; } = newTokens;

        public int Window { get; } = window;

        public int Early { get; } = early;

        public int Late { get; } = late;

        /// <summary>Whether the main run's decode steps cover [position, position + window) (so a null window means it ended early).</summary>
        public bool Reaches(int position) => position >= Prompt.Length && position - Prompt.Length + Window <= NewTokens - 1;

        /// <summary>A generation whose decode steps cover [position, position + window): a prompt of position - window ids (the main prompt, extended).</summary>
        public (int[] Prompt, int NewTokens) PositionRun(int position)
        {
            var length = Math.Max(1, position - Window);
            return (ExtendPrompt(Prompt, length, vocabulary, eos), position + Window - length + 1);
        }
    }
}
