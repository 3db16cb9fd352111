namespace OnnxGpt.Hosting;

/// <summary>Which engine runs the model behind <see cref="Generation.IGptGenerator"/>.</summary>
public enum GptBackend
{
    /// <summary>OnnxGpt's own generation loop over ONNX Runtime (the default).</summary>
    OnnxGpt,

    /// <summary>
    /// Microsoft.ML.OnnxRuntimeGenAI, for models published for it (a folder with <c>genai_config.json</c>).
    /// Needs the OnnxGpt.GenAI package and <c>.UseOnnxRuntimeGenAI()</c> on the registration.
    /// </summary>
    GenAI,
}
