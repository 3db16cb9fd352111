namespace OnnxGpt.Onnx.Quantization;

/// <summary>What <see cref="ModelQuantizer.Quantize"/> wrote.</summary>
public sealed class QuantizationResult
{
    /// <summary>The quantized graph's path.</summary>
    public required string GraphPath { get; init; }

    /// <summary>Its external data file's path.</summary>
    public required string DataPath { get; init; }

    /// <summary>The MatMul weights rewritten to <c>MatMulNBits</c>, by weight name.</summary>
    public required IReadOnlyList<string> Quantized { get; init; }

    /// <summary>The embedding table rewritten to <c>GatherBlockQuantized</c> (with <see cref="QuantizeOptions.QuantizeEmbedding"/>), or null.</summary>
    public string? QuantizedEmbedding { get; init; }

    /// <summary>MatMul weights left in float, each with the reason.</summary>
    public required IReadOnlyList<string> Skipped { get; init; }

    /// <summary>The bytes of the source graph and its weights.</summary>
    public required long SourceBytes { get; init; }

    /// <summary>The bytes of the written graph and its weights.</summary>
    public required long OutputBytes { get; init; }

    /// <summary>The other files copied beside the graph (configuration, tokenizer).</summary>
    public required IReadOnlyList<string> CopiedFiles { get; init; }
}
