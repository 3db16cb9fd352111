namespace OnnxGpt.Onnx.Optimization;

/// <summary>What <see cref="GraphOptimizer"/> writes and which fusions it applies.</summary>
public sealed class OptimizeOptions
{
    /// <summary>The model folder (<c>model.onnx</c> or <c>onnx/model.onnx</c>) or the <c>.onnx</c> file to optimize.</summary>
    public required string ModelPath { get; init; }

    /// <summary>The folder to write (created when missing; may be the source folder with a <see cref="Variant"/>).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>
    /// Null (default): write <c>model.onnx</c> at the top of the output folder. A name such as <c>fused</c>: write
    /// <c>model_fused.onnx</c> beside a <c>model.onnx</c> already at the output's top, else <c>onnx/model_fused.onnx</c>
    /// (the hub layout), where the library finds it as that variant.
    /// </summary>
    public string? Variant { get; init; }

    /// <summary>The fusions to apply, by name (see <see cref="GraphOptimizer.FusionNames"/>); empty (default): every fusion.</summary>
    public IList<string> Fusions { get; } = new List<string>();

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentException">A path is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The variant is not a plain name.</exception>
    public void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ModelPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(OutputDirectory);
        if (Variant is not null && (Variant.Length == 0 || Variant.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\', '.']) >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Variant), Variant, "Variant must be a plain name such as fused (it becomes model_fused.onnx).");
        }
    }
}
