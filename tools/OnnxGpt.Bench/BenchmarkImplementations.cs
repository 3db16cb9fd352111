using OnnxGpt.Generation;

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

    /// <summary>
    /// llama.cpp through LLamaSharp on a GGUF file written from the same ONNX weights (GPT-2 graphs only), in each of
    /// <see cref="BenchmarkSettings.GgufTypes"/>. An optional peer: not part of <see cref="All"/>.
    /// </summary>
    LlamaSharp = 16,

    /// <summary>
    /// OnnxGpt as <see cref="OnnxGpt"/>, with its per-token session runs through ONNX Runtime's managed API (IoBinding
    /// over the same buffers) instead of the C API: what the loop falls back to without the native session handle.
    /// Not part of <see cref="All"/>.
    /// </summary>
    OnnxGptManaged = 32,

    /// <summary>
    /// OnnxGpt as <see cref="OnnxGpt"/> with <c>GptOptions.EnableBatching = false</c>: the request drives its own engine
    /// instead of the model's scheduler, so that a single stream's cost of continuous batching is measured in turns
    /// with it. Not part of <see cref="All"/>.
    /// </summary>
    OnnxGptNoBatching = 64,

    /// <summary>
    /// OnnxGpt as <see cref="OnnxGpt"/> with <c>GptOptions.OptimizeGraph = false</c>: the graph as stored, without the
    /// in-memory rewrite at load, so that the rewrite's gain is measured in turns with it. Not part of <see cref="All"/>.
    /// </summary>
    OnnxGptAsStored = 128,

    /// <summary>OnnxGpt, the two ONNX Runtime loops and GenAI (not the optional <see cref="LlamaSharp"/>).</summary>
    All = OnnxGpt | OrtNaive | OrtTight | GenAI,
}
