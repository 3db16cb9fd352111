namespace OnnxGpt.Providers;

/// <summary>Whether one execution provider can run on this machine, and if not, why.</summary>
/// <param name="Name">The provider (<c>Cpu</c>, <c>Cuda</c>, <c>DirectML</c>).</param>
/// <param name="Loads">Whether a session could be created with it.</param>
/// <param name="Reason">Why it cannot, naming the missing library where ONNX Runtime does; null when it loads.</param>
public sealed record ExecutionProviderStatus(string Name, bool Loads, string? Reason);
