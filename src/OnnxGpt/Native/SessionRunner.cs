using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxGpt.Native;

/// <summary>
/// Runs one session of the per-token loop over tensors held as native <c>OrtValue</c> handles. Natively (the default),
/// it calls the C API's <c>Run</c> on the session's native handle with the names kept in native memory: nothing is
/// allocated on the managed heap. Where this ONNX Runtime build hides the session's handle (<see cref="OrtNative.TrySessionHandle"/>),
/// or where the load-time check found the native run to differ from the managed one, it runs the managed API
/// (<see cref="OrtIoBinding"/> over the same buffers: the same results, with a few managed objects per run, and a
/// copy of each output ONNX Runtime allocates).
/// </summary>
internal sealed unsafe class SessionRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly IntPtr _handle;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly NativeNames _names;

    /// <param name="session">The session; the runner does not own it.</param>
    /// <param name="inputs">The input names, in the order the loop passes its tensors.</param>
    /// <param name="outputs">The output names, in the order the loop passes its tensors.</param>
    /// <param name="native">False: run through the managed API, as when the session's handle is missing (tests of the fallback).</param>
    public SessionRunner(InferenceSession session, IReadOnlyList<string> inputs, IReadOnlyList<string> outputs, bool native)
    {
        _session = session;
        _inputNames = [.. inputs];
        _outputNames = [.. outputs];
        _names = new NativeNames(inputs, outputs);
        if (native && OrtNative.TrySessionHandle(session, out var handle))
        {
            _handle = handle;
            IsNative = true;
        }
    }

    /// <summary>Whether runs go through the C API (true) or the managed API (false).</summary>
    public bool IsNative { get; private set; }

    /// <summary>Whether the session's native handle is there to run through the C API.</summary>
    public bool HasNativeHandle => _handle != IntPtr.Zero;

    /// <summary>Switches runs to the managed API from now on (the load-time check found a difference, or a test asks).</summary>
    public void UseManaged() => IsNative = false;

    /// <summary>Switches runs back to the C API, when the session's handle is known.</summary>
    public void UseNative() => IsNative = HasNativeHandle;

    /// <summary>
    /// Runs the session: <paramref name="inputs"/> in the input order given at construction (the first
    /// <paramref name="inputCount"/> of them), <paramref name="outputs"/> likewise; an output that is
    /// <see cref="IntPtr.Zero"/> is allocated by ONNX Runtime and returned in its place (the caller releases it).
    /// </summary>
    /// <returns>An <c>OrtStatus</c> the caller reads and releases (<see cref="OrtNative.TakeMessage"/>), or zero on success.</returns>
    public IntPtr Run(RunOptions runOptions, IntPtr* inputs, int inputCount, IntPtr* outputs, int outputCount)
    {
        if (IsNative)
        {
            return OrtNative.Functions.Run(_handle, runOptions.DangerousGetHandle(), _names.Inputs, inputs, (nuint)inputCount, _names.Outputs, (nuint)outputCount, outputs);
        }

        try
        {
            RunManaged(runOptions, inputs, inputCount, outputs, outputCount);
            return IntPtr.Zero;
        }
        catch (OnnxRuntimeException ex)
        {
            return Status(ex.Message);
        }
    }

    public void Dispose() => _names.Dispose();

    private static IntPtr Status(string message)
    {
        var bytes = Encoding.UTF8.GetBytes(message + "\0");
        fixed (byte* text = bytes)
        {
            // ORT_FAIL; the status copies the message.
            return OrtNative.Functions.CreateStatus(1, text);
        }
    }

    private static int ElementSize(TensorElementType type) => type switch
    {
        TensorElementType.Float or TensorElementType.Int32 or TensorElementType.UInt32 => 4,
        TensorElementType.Float16 or TensorElementType.BFloat16 or TensorElementType.Int16 or TensorElementType.UInt16 => 2,
        TensorElementType.Int64 or TensorElementType.UInt64 or TensorElementType.Double => 8,
        TensorElementType.Bool or TensorElementType.Int8 or TensorElementType.UInt8 => 1,
        _ => throw new GptException($"The managed run does not handle {type} tensors."),
    };

    /// <summary>A managed view of a native host tensor (same memory; disposing it leaves the tensor alone).</summary>
    private static OrtValue View(IntPtr value, TensorElementType type)
    {
        var api = OrtNative.Functions;
        void* data;
        OrtNative.Check(api.GetTensorMutableData(value, &data), "GetTensorMutableData");
        var shape = api.GetShape(value);
        long count = 1;
        foreach (var dim in shape)
        {
            count *= dim;
        }

        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, shape, (IntPtr)data, count * ElementSize(type));
    }

    private static IntPtr NativeCopy(OrtValue value)
    {
        var api = OrtNative.Functions;
        var info = value.GetTensorTypeAndShape();
        var shape = info.Shape;
        IntPtr copy;
        fixed (long* dims = shape)
        {
            OrtNative.Check(api.CreateTensor(OrtAllocator.DefaultInstance.DangerousGetHandle(), dims, (nuint)shape.Length, (int)info.ElementDataType, &copy), "CreateTensorAsOrtValue");
        }

        void* data;
        OrtNative.Check(api.GetTensorMutableData(copy, &data), "GetTensorMutableData");
        var source = value.GetTensorMutableRawData();
        source.CopyTo(new Span<byte>(data, source.Length));
        return copy;
    }

    private void RunManaged(RunOptions runOptions, IntPtr* inputs, int inputCount, IntPtr* outputs, int outputCount)
    {
        var views = new List<OrtValue>(inputCount + outputCount);
        try
        {
            using var binding = _session.CreateIoBinding();
            for (var i = 0; i < inputCount; i++)
            {
                var meta = _session.InputMetadata.GetValueOrDefault(_inputNames[i]) ?? _session.OverridableInitializerMetadata[_inputNames[i]];
                var view = View(inputs[i], meta.ElementDataType);
                views.Add(view);
                binding.BindInput(_inputNames[i], view);
            }

            for (var i = 0; i < outputCount; i++)
            {
                if (outputs[i] == IntPtr.Zero)
                {
                    binding.BindOutputToDevice(_outputNames[i], OrtMemoryInfo.DefaultInstance);
                    continue;
                }

                var view = View(outputs[i], _session.OutputMetadata[_outputNames[i]].ElementDataType);
                views.Add(view);
                binding.BindOutput(_outputNames[i], view);
            }

            _session.RunWithBinding(runOptions, binding);
            using var results = binding.GetOutputValues();
            var result = 0;
            foreach (var value in results)
            {
                if (outputs[result] == IntPtr.Zero)
                {
                    // The caller releases what it is given as it releases a native run's: a native copy of the result.
                    outputs[result] = NativeCopy(value);
                }

                result++;
            }
        }
        finally
        {
            foreach (var view in views)
            {
                view.Dispose();
            }
        }
    }
}
