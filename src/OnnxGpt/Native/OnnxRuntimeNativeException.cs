namespace OnnxGpt.Native;

/// <summary>An error status returned by an ONNX Runtime C API call.</summary>
internal sealed class OnnxRuntimeNativeException : GptException
{
    public OnnxRuntimeNativeException()
    {
    }

    public OnnxRuntimeNativeException(string message)
        : base(message)
    {
    }

    public OnnxRuntimeNativeException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
