namespace OnnxGpt.Generation;

/// <summary>
/// The names of the engines that run a model behind <see cref="Generation.IGptGenerator"/> (<see cref="GptOptions.Backend"/>).
/// A backend is named by a string, compared ignoring case: another package can add one by registering an
/// <see cref="Hosting.IGptBackendFactory"/> with its own <see cref="Hosting.IGptBackendFactory.Name"/>.
/// </summary>
public static class GptBackend
{
    /// <summary>OnnxGpt's own generation loop over ONNX Runtime (the default).</summary>
    public const string OnnxGpt = "OnnxGpt";

    /// <summary>
    /// Microsoft.ML.OnnxRuntimeGenAI, for models published for it (a folder with <c>genai_config.json</c>).
    /// Needs the OnnxGpt.GenAI package and <c>.UseOnnxRuntimeGenAI()</c> on the registration.
    /// </summary>
    public const string GenAI = "GenAI";

    /// <summary>Whether <paramref name="backend"/> names OnnxGpt's own engine.</summary>
    /// <param name="backend">A backend name, as configured.</param>
    /// <returns>True for <see cref="OnnxGpt"/> in any case.</returns>
    public static bool IsOnnxGpt(string? backend) => string.Equals(backend?.Trim(), OnnxGpt, StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether two backend names name the same backend (ignoring case and surrounding spaces).</summary>
    /// <param name="a">A name.</param>
    /// <param name="b">Another name.</param>
    /// <returns>True when they are the same.</returns>
    public static bool Same(string? a, string? b) => string.Equals(a?.Trim(), b?.Trim(), StringComparison.OrdinalIgnoreCase);
}
