namespace OnnxGpt.Onnx.Optimization;

/// <summary>What <see cref="GraphOptimizer.Rewrite"/> made of a graph in memory.</summary>
public sealed class GraphRewrite
{
    /// <summary>
    /// The rewritten graph's bytes, or null when no fusion matched (load the original file). External data is still
    /// read from the source graph's folder: give ONNX Runtime that folder as
    /// <c>session.model_external_initializers_file_folder_path</c> when loading these bytes.
    /// </summary>
    public byte[]? Graph { get; init; }

    /// <summary>Each fusion asked for, in running order, with how many matches it fused.</summary>
    public required IReadOnlyList<FusionCount> Fusions { get; init; }
}
