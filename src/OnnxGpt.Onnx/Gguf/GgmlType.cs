namespace OnnxGpt.Onnx.Gguf;

/// <summary>The ggml tensor types a GGUF file written here holds, with ggml's own numbers (<c>enum ggml_type</c>).</summary>
public enum GgmlType
{
    /// <summary>32-bit floats.</summary>
    F32 = 0,

    /// <summary>Blocks of 32 weights: an f16 scale and 16 bytes of 4-bit codes (llama.cpp's <c>block_q4_0</c>, 18 bytes).</summary>
    Q4_0 = 2,

    /// <summary>Blocks of 32 weights: an f16 scale and 32 int8 codes (llama.cpp's <c>block_q8_0</c>, 34 bytes).</summary>
    Q8_0 = 8,
}
