namespace OnnxGpt.Onnx.Quantization;

/// <summary>How <see cref="ModelQuantizer"/> rewrites a model's MatMul weights.</summary>
public sealed class QuantizeOptions
{
    /// <summary>Bits per weight: 4 (default) or 8.</summary>
    public int Bits { get; set; } = 4;

    /// <summary>Weights per block along K, each block with its own scale: a power of two, 16 or more (default 32).</summary>
    public int BlockSize { get; set; } = 32;

    /// <summary>True (default): scale from each block's largest magnitude, no zero points; false: min/max with a zero point per block.</summary>
    public bool Symmetric { get; set; } = true;

    /// <summary>
    /// <c>MatMulNBits</c>' <c>accuracy_level</c>: the least precise input type ONNX Runtime may compute with (4: int8,
    /// the fastest on CPU; 0: unset). Default 4, as onnxruntime-genai's model builder uses on CPU.
    /// </summary>
    public int AccuracyLevel { get; set; } = 4;

    /// <summary>
    /// Whether the token embedding's <c>Gather</c> becomes com.microsoft <c>GatherBlockQuantized</c> with the same bits,
    /// block size and packing (default false, as onnxruntime-genai's model builder leaves it unless asked: on gpt2-124m
    /// the fp32 wte is 154 MB of the int4 model's 235 MB, but only one row of it is read per token).
    /// </summary>
    public bool QuantizeEmbedding { get; set; }

    /// <summary>MatMul nodes to leave in float, by node name or weight name.</summary>
    public IList<string> Exclude { get; } = new List<string>();

    /// <summary>
    /// Null (default): write <c>model.onnx</c> at the top of the output folder. A name such as <c>q4</c>: write
    /// <c>onnx/model_q4.onnx</c>, the Hugging Face hub layout's variant naming, or <c>model_q4.onnx</c> beside a
    /// <c>model.onnx</c> already at the output's top (quantizing a folder into itself), where the library finds it.
    /// </summary>
    public string? Variant { get; set; }

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        BlockQuantizer.Validate(Bits, BlockSize);
        if (AccuracyLevel is < 0 or > 4)
        {
            throw new ArgumentOutOfRangeException(nameof(AccuracyLevel), AccuracyLevel, "AccuracyLevel must be 0 (unset), 1 (fp32), 2 (fp16), 3 (bf16) or 4 (int8).");
        }

        if (Variant is not null && (Variant.Length == 0 || Variant.IndexOfAny([.. Path.GetInvalidFileNameChars(), '/', '\\', '.']) >= 0))
        {
            throw new ArgumentOutOfRangeException(nameof(Variant), Variant, "Variant must be a plain name such as q4 (it becomes onnx/model_q4.onnx).");
        }
    }
}
