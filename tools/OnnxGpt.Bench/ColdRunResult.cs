namespace OnnxGpt.Bench;

/// <summary>One configuration of <see cref="ColdRunBenchmark"/>: medians over its cold processes.</summary>
public sealed class ColdRunResult
{
    /// <summary>The configuration's label (<c>default</c>, or the one given with its environment).</summary>
    public required string Label { get; init; }

    /// <summary>The environment variables set for the child processes (empty for the default).</summary>
    public required IReadOnlyDictionary<string, string> Environment { get; init; }

    /// <summary>The executable its processes ran, when not the benchmark's own.</summary>
    public string? Executable { get; init; }

    /// <summary>Median milliseconds from starting the process to its first generated text on standard output.</summary>
    public required double StartToFirstTokenMs { get; init; }

    /// <summary>Median decode rate: the tokens after the first over the time from the first to the last text written.</summary>
    public required double DecodeTokensPerSecond { get; init; }

    /// <summary>Median milliseconds from starting the process to its exit.</summary>
    public required double ProcessMs { get; init; }

    /// <summary>Every process's start-to-first-token time, in run order.</summary>
    public required IReadOnlyList<double> StartToFirstTokenRunsMs { get; init; }

    /// <summary>Every process's decode rate, in run order.</summary>
    public required IReadOnlyList<double> DecodeRuns { get; init; }
}
