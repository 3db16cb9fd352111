namespace OnnxGpt.Models;

/// <summary>How an exported graph takes and returns the keys and values of earlier positions.</summary>
public enum KvCacheConvention
{
    /// <summary>
    /// One key and one value tensor per layer: <c>past_key_values.{i}.key/value</c> in,
    /// <c>present.{i}.key/value</c> out, shaped [batch, kv heads, positions, head size].
    /// Grouped-query attention (fewer kv heads than attention heads) uses the same names.
    /// </summary>
    SeparateKeyValue,

    /// <summary>
    /// One tensor per layer holding keys and values together, ONNX Runtime's older GPT-2 layout:
    /// <c>past_{i}</c> in, <c>present_{i}</c> out, shaped [2, batch, kv heads, positions, head size].
    /// </summary>
    Combined,

    /// <summary>No cache: the whole sequence is recomputed at every step, which is slow.</summary>
    None,
}
