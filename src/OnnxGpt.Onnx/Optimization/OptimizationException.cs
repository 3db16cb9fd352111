namespace OnnxGpt.Onnx.Optimization;

/// <summary>The model cannot be optimized; the message says why and what to do.</summary>
public sealed class OptimizationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public OptimizationException()
    {
    }

    /// <summary>Creates the exception with its reason.</summary>
    /// <param name="message">Why the model cannot be optimized.</param>
    public OptimizationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its reason and cause.</summary>
    /// <param name="message">Why the model cannot be optimized.</param>
    /// <param name="innerException">The failure behind it.</param>
    public OptimizationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
