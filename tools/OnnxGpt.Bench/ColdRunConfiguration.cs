namespace OnnxGpt.Bench;

/// <summary>One configuration of <see cref="ColdRunBenchmark"/>: a label, environment variables for its processes and, optionally, another executable (a ReadyToRun publish of the CLI, say).</summary>
/// <param name="Label">Its name in the report.</param>
/// <param name="Environment">Variables set for its processes.</param>
/// <param name="Executable">The executable its processes run; null: the benchmark's own.</param>
public sealed record ColdRunConfiguration(string Label, IReadOnlyDictionary<string, string> Environment, string? Executable = null);
