namespace OnnxGpt;

/// <summary>
/// Thrown by <see cref="Generation.GptModel.Load(Generation.GptOptions, Microsoft.Extensions.Logging.ILoggerFactory?)"/> when a model folder or file
/// cannot be used: it is missing, is not an ONNX graph, lacks an input or output OnnxGpt needs,
/// or ships tokenizer or configuration files that cannot be read.
/// </summary>
public sealed class ModelLoadException : GptException
{
    /// <summary>Creates an exception with no message.</summary>
    public ModelLoadException()
    {
    }

    /// <summary>Creates an exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public ModelLoadException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The underlying error.</param>
    public ModelLoadException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception that names the path that failed to load.</summary>
    /// <param name="modelPath">The model folder or file that was being loaded.</param>
    /// <param name="message">What was wrong with it, and what to do.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public ModelLoadException(string modelPath, string message, Exception? innerException = null)
        : base($"Cannot load the model at '{modelPath}': {message}", innerException)
    {
        ModelPath = modelPath;
        Reason = message;
    }

    /// <summary>The model folder or file that failed to load, when known.</summary>
    public string? ModelPath { get; }

    /// <summary>What was wrong with the model, without the path.</summary>
    public string? Reason { get; }
}
