namespace OnnxGpt.Onnx.Optimization;

/// <summary>What <see cref="GraphOptimizer.Optimize"/> wrote.</summary>
public sealed class OptimizationResult
{
    /// <summary>The optimized graph's path.</summary>
    public required string GraphPath { get; init; }

    /// <summary>Its external data file's path, or null when every weight is inline.</summary>
    public string? DataPath { get; init; }

    /// <summary>Each fusion applied, in running order, with how many matches it fused.</summary>
    public required IReadOnlyList<FusionCount> Fusions { get; init; }

    /// <summary>The graph's node count before the pass.</summary>
    public required int NodesBefore { get; init; }

    /// <summary>The graph's node count after the pass.</summary>
    public required int NodesAfter { get; init; }

    /// <summary>Node counts by operator type (<c>domain:op</c> outside the default domain) before the pass.</summary>
    public required IReadOnlyDictionary<string, int> OperatorsBefore { get; init; }

    /// <summary>Node counts by operator type after the pass.</summary>
    public required IReadOnlyDictionary<string, int> OperatorsAfter { get; init; }

    /// <summary>The other files copied beside the graph (configuration, tokenizer).</summary>
    public required IReadOnlyList<string> CopiedFiles { get; init; }
}
