namespace OnnxGpt.Onnx.Quantization;

/// <summary>The model cannot be quantized; the message says why and what to do.</summary>
public sealed class QuantizationException : Exception
{
    /// <summary>Creates the exception.</summary>
    public QuantizationException()
    {
    }

    /// <summary>Creates the exception with its reason.</summary>
    /// <param name="message">Why the model cannot be quantized.</param>
    public QuantizationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its reason and cause.</summary>
    /// <param name="message">Why the model cannot be quantized.</param>
    /// <param name="innerException">The failure behind it.</param>
    public QuantizationException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
