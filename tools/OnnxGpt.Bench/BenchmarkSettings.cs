namespace OnnxGpt.Bench;

/// <summary>What <see cref="BenchmarkRunner.RunAsync"/> measures. Every implementation gets the same graph, prompt and token count, greedy.</summary>
public sealed class BenchmarkSettings
{
    /// <summary>The default number of prompt tokens when <see cref="PromptTokenIds"/> is null.</summary>
    public const int DefaultPromptLength = 32;

    /// <summary>The default number of tokens to generate.</summary>
    public const int DefaultNewTokens = 128;

    /// <summary>The default early position for the per-token time.</summary>
    public const int DefaultEarlyPosition = 32;

    /// <summary>The latest default late position for the per-token time (smaller when the context is shorter).</summary>
    public const int DefaultLatePosition = 900;

    /// <summary>The model folder: <c>model.onnx</c>, <c>genai_config.json</c> and, for the benchmark graphs, <c>weights.manifest.json</c>.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>The graph variant every implementation runs (<c>model_NAME.onnx</c>, as <see cref="OnnxGpt.Generation.GptOptions.Variant"/>); null: <c>model.onnx</c>.</summary>
    public string? Variant { get; init; }

    /// <summary>The prompt's token ids. Null: a fixed pseudo-random sequence of <see cref="PromptLength"/> ids within the vocabulary.</summary>
    public IReadOnlyList<int>? PromptTokenIds { get; init; }

    /// <summary>Length of the generated prompt when <see cref="PromptTokenIds"/> is null.</summary>
    public int PromptLength { get; init; } = DefaultPromptLength;

    /// <summary>Tokens to generate in each run (fewer only if an end-of-sequence token comes first, identically for every implementation).</summary>
    public int NewTokens { get; init; } = DefaultNewTokens;

    /// <summary>Unmeasured runs per implementation before the measured ones.</summary>
    public int WarmupRuns { get; init; } = 1;

    /// <summary>Measured runs per implementation; medians are reported.</summary>
    public int MeasuredRuns { get; init; } = 3;

    /// <summary>
    /// The position (sequence length when the step runs) where the early per-token time is taken: the median step
    /// time of the <see cref="PositionWindow"/> decode steps from it. Null: 32.
    /// </summary>
    public int? EarlyPosition { get; init; }

    /// <summary>
    /// The position where the late per-token time is taken. Null: min(900, context length - 32).
    /// When the main run does not reach it, a second generation with a prompt just short of it measures it.
    /// </summary>
    public int? LatePosition { get; init; }

    /// <summary>Decode steps whose median gives a per-token time.</summary>
    public int PositionWindow { get; init; } = 8;

    /// <summary>Which implementations to run. Default: all (GenAI only in CPU builds; otherwise it is reported unavailable).</summary>
    public BenchmarkImplementations Implementations { get; init; } = BenchmarkImplementations.All;

    /// <summary>
    /// The GGUF weight types LLamaSharp runs when <see cref="Implementations"/> includes
    /// <see cref="BenchmarkImplementations.LlamaSharp"/>, one row each (default F32). Each GGUF is written from the folder's
    /// float32 <c>model.onnx</c> (whatever <see cref="Variant"/> the others run) into <c>gguf/model-TYPE.gguf</c>.
    /// </summary>
    public IReadOnlyList<OnnxGpt.Onnx.Gguf.GgmlType> GgufTypes { get; init; } = [OnnxGpt.Onnx.Gguf.GgmlType.F32];

    /// <summary>ONNX Runtime intra-op threads for every implementation. Null: OnnxGpt's choice (one per available core); 0: ONNX Runtime's default.</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>
    /// The execution provider OnnxGpt runs on (<c>Cpu</c>, <c>Cuda</c>, <c>DirectML</c>); null: CPU. The ONNX Runtime
    /// loops and GenAI always run on the CPU, so compare them only on a CPU run.
    /// </summary>
    public string? ExecutionProvider { get; init; }

    /// <summary>
    /// ONNX Runtime session configuration entries (<c>session.*</c> keys) for OnnxGpt and the ONNX Runtime loops, added
    /// after the defaults (so they override them); null or empty: none.
    /// </summary>
    public IReadOnlyDictionary<string, string>? SessionConfigEntries { get; init; }

    /// <summary>
    /// Extra rows of the tight ONNX Runtime loop, each with these entries on top of <see cref="SessionConfigEntries"/>
    /// (session config keys, or <c>memory_pattern</c>, <c>cpu_mem_arena</c>, <c>threads</c>), so that configurations are
    /// compared in one run, taking turns with the others; their ids count in <see cref="BenchmarkReport.IdsMatch"/>.
    /// </summary>
    public IReadOnlyList<IReadOnlyDictionary<string, string>> TightLoopConfigurations { get; init; } = [];

    /// <summary>Whether to measure the machine's memory read bandwidth and the bandwidth ceiling.</summary>
    public bool MeasureBandwidth { get; init; } = true;

    /// <summary>Bytes read per bandwidth pass; at least 1 GiB to defeat the caches (smaller values are for tests).</summary>
    public long BandwidthBufferBytes { get; init; } = 1L << 30;

    /// <summary>Whether to write the weights from <c>weights.manifest.json</c> when they are missing (otherwise a missing data file is an error).</summary>
    public bool WriteMissingWeights { get; init; } = true;

    /// <summary>Whether the JSON report lists each implementation's generated ids.</summary>
    public bool IncludeTokenIds { get; init; } = true;

    /// <summary>Whether the report lists every decode step's time of each implementation's first measured run (<see cref="ImplementationReport.StepTimesMs"/>).</summary>
    public bool IncludeStepTimes { get; init; }
}
