namespace OnnxGpt.Bench;

/// <summary>The generation loops a benchmark can compare, combinable as flags.</summary>
[Flags]
public enum BenchmarkImplementations
{
    /// <summary>None.</summary>
    None = 0,

    /// <summary>OnnxGpt's public API: <c>GptModel.Load</c>, <c>GptGenerator.Create</c>, <c>StreamAsync</c> with greedy options.</summary>
    OnnxGpt = 1,

    /// <summary>A plain ONNX Runtime loop written the obvious way: <c>NamedOnnxValue</c>s of <c>DenseTensor</c>s, every output copied out and fed back.</summary>
    OrtNaive = 2,

    /// <summary>A plain ONNX Runtime loop written as tightly as the API allows: <c>OrtValue</c>s over pinned buffers, presents fed back as they are.</summary>
    OrtTight = 4,

    /// <summary>ONNX Runtime GenAI (<c>Microsoft.ML.OnnxRuntimeGenAI</c>) on the same folder through its <c>genai_config.json</c>; CPU builds only.</summary>
    GenAI = 8,

    /// <summary>All of them.</summary>
    All = OnnxGpt | OrtNaive | OrtTight | GenAI,
}
