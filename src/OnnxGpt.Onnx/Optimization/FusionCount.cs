namespace OnnxGpt.Onnx.Optimization;

/// <summary>How many matches one fusion rewrote.</summary>
/// <param name="Name">The fusion's name.</param>
/// <param name="Count">The matches it fused (0: its pattern is not in the graph).</param>
public sealed record FusionCount(string Name, int Count);
