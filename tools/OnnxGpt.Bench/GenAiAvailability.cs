namespace OnnxGpt.Bench;

/// <summary>Whether this build can run ONNX Runtime GenAI (only builds on the CPU ONNX Runtime package can).</summary>
public static class GenAiAvailability
{
    /// <summary>The implementation's name in reports.</summary>
    public const string DisplayName = "GenAI";

#if ONNXGPT_GENAI
    /// <summary>True: this build references Microsoft.ML.OnnxRuntimeGenAI.</summary>
    public const bool IsAvailable = true;

    /// <summary>Why GenAI cannot run, or null when it can.</summary>
    public const string? UnavailableReason = null;
#else
    /// <summary>False: this build uses the GPU ONNX Runtime natives, which GenAI's CPU package must not be mixed with.</summary>
    public const bool IsAvailable = false;

    /// <summary>Why GenAI cannot run, or null when it can.</summary>
    public const string? UnavailableReason = "not in this build: Microsoft.ML.OnnxRuntimeGenAI depends on the CPU ONNX Runtime package, which must not be mixed with the GPU one (build with OnnxGptRuntime=Cpu to compare it)";
#endif
}
