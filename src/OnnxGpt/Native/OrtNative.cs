using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace OnnxGpt.Native;

/// <summary>
/// The few ONNX Runtime C API functions the per-token loop calls directly. The managed API allocates an
/// object per input and output on every run; calling the C API with handles kept in native memory lets a
/// decode step allocate nothing on the managed heap. The entries are looked up by their index in the
/// append-only <c>OrtApi</c> table, and checked against each other once, on first use.
/// </summary>
internal static unsafe class OrtNative
{
    // Indices in OrtApi (onnxruntime_c_api.h); the table only ever grows at its end.
    private const int CreateStatusIndex = 0;
    private const int GetErrorMessageIndex = 2;
    private const int RunIndex = 9;
    private const int CreateTensorAsOrtValueIndex = 48;
    private const int CreateTensorWithDataAsOrtValueIndex = 49;
    private const int GetTensorMutableDataIndex = 51;
    private const int GetDimensionsCountIndex = 61;
    private const int GetDimensionsIndex = 62;
    private const int GetTensorTypeAndShapeIndex = 65;
    private const int ReleaseStatusIndex = 93;
    private const int ReleaseValueIndex = 96;
    private const int ReleaseTensorTypeAndShapeInfoIndex = 99;

    // Any version from 1.16 on has every entry above.
    private const uint ApiVersion = 16;

    private static readonly Lazy<Api> Table = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Func<InferenceSession, IntPtr>? SessionHandleGetter = CreateSessionHandleGetter();

    public static Api Functions => Table.Value;

    /// <summary>
    /// The native OrtSession behind a managed session, read from <see cref="InferenceSession"/>'s private
    /// <c>_nativeHandle</c> (the managed API does not expose it). False where this build of
    /// Microsoft.ML.OnnxRuntime.Managed has no such field: the loop then runs through the managed API.
    /// </summary>
    public static bool TrySessionHandle(InferenceSession session, out IntPtr handle)
    {
        handle = SessionHandleGetter?.Invoke(session) ?? IntPtr.Zero;
        return handle != IntPtr.Zero;
    }

    /// <summary>Throws a <see cref="GptException"/> carrying ONNX Runtime's message when <paramref name="status"/> is an error.</summary>
    public static void Check(IntPtr status, string what)
    {
        if (status == IntPtr.Zero)
        {
            return;
        }

        throw new OnnxRuntimeNativeException($"{what}: {TakeMessage(status)}");
    }

    /// <summary>Reads and releases an error status.</summary>
    public static string TakeMessage(IntPtr status)
    {
        var api = Functions;
        var message = Marshal.PtrToStringUTF8(api.GetErrorMessage(status)) ?? "unknown error";
        api.ReleaseStatus(status);
        return message.Trim();
    }

    [DllImport("onnxruntime", CallingConvention = CallingConvention.Cdecl)]
    private static extern IntPtr OrtGetApiBase();

    private static Api Load()
    {
        var apiBase = (IntPtr*)OrtGetApiBase();
        var getApi = (delegate* unmanaged[Cdecl]<uint, IntPtr*>)apiBase[0];
        var table = getApi(ApiVersion);
        if (table == null)
        {
            throw new GptException($"The ONNX Runtime native library does not offer C API version {ApiVersion}; use ONNX Runtime 1.16 or later.");
        }

        var api = new Api(table);
        api.SelfTest();
        return api;
    }

    private static Func<InferenceSession, IntPtr>? CreateSessionHandleGetter()
    {
        const BindingFlags flags = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
        var property = typeof(InferenceSession).GetProperty("Handle", flags);
        if (property?.GetMethod is { } getter && property.PropertyType == typeof(IntPtr))
        {
            return getter.CreateDelegate<Func<InferenceSession, IntPtr>>();
        }

        var field = typeof(InferenceSession).GetField("_nativeHandle", flags);
        if (field?.FieldType == typeof(IntPtr))
        {
            return session => (IntPtr)field.GetValue(session)!;
        }

        return null;
    }

    /// <summary>Function pointers into the C API table.</summary>
    internal sealed class Api
    {
        private readonly IntPtr* _table;

        public Api(IntPtr* table) => _table = table;

        public IntPtr CreateStatus(int code, byte* message) =>
            ((delegate* unmanaged[Cdecl]<int, byte*, IntPtr>)_table[CreateStatusIndex])(code, message);

        public IntPtr GetErrorMessage(IntPtr status) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)_table[GetErrorMessageIndex])(status);

        public void ReleaseStatus(IntPtr status) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, void>)_table[ReleaseStatusIndex])(status);

        public IntPtr Run(IntPtr session, IntPtr runOptions, IntPtr* inputNames, IntPtr* inputs, nuint inputCount, IntPtr* outputNames, nuint outputCount, IntPtr* outputs) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr*, IntPtr*, nuint, IntPtr*, nuint, IntPtr*, IntPtr>)_table[RunIndex])(session, runOptions, inputNames, inputs, inputCount, outputNames, outputCount, outputs);

        public IntPtr CreateTensorWithData(IntPtr memoryInfo, void* data, nuint byteLength, long* shape, nuint rank, int elementType, IntPtr* value) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, void*, nuint, long*, nuint, int, IntPtr*, IntPtr>)_table[CreateTensorWithDataAsOrtValueIndex])(memoryInfo, data, byteLength, shape, rank, elementType, value);

        public IntPtr CreateTensor(IntPtr allocator, long* shape, nuint rank, int elementType, IntPtr* value) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, long*, nuint, int, IntPtr*, IntPtr>)_table[CreateTensorAsOrtValueIndex])(allocator, shape, rank, elementType, value);

        public IntPtr GetTensorMutableData(IntPtr value, void** data) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, void**, IntPtr>)_table[GetTensorMutableDataIndex])(value, data);

        public IntPtr GetTensorTypeAndShape(IntPtr value, IntPtr* info) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, IntPtr*, IntPtr>)_table[GetTensorTypeAndShapeIndex])(value, info);

        public IntPtr GetDimensionsCount(IntPtr info, nuint* count) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, nuint*, IntPtr>)_table[GetDimensionsCountIndex])(info, count);

        public IntPtr GetDimensions(IntPtr info, long* dims, nuint count) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, long*, nuint, IntPtr>)_table[GetDimensionsIndex])(info, dims, count);

        public void ReleaseTensorTypeAndShapeInfo(IntPtr info) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, void>)_table[ReleaseTensorTypeAndShapeInfoIndex])(info);

        public void ReleaseValue(IntPtr value) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, void>)_table[ReleaseValueIndex])(value);

        /// <summary>Reads a tensor's shape (allocates; not for the per-token path).</summary>
        public long[] GetShape(IntPtr value)
        {
            IntPtr info;
            Check(GetTensorTypeAndShape(value, &info), "GetTensorTypeAndShape");
            try
            {
                nuint rank;
                Check(GetDimensionsCount(info, &rank), "GetDimensionsCount");
                var dims = new long[(int)rank];
                fixed (long* p = dims)
                {
                    Check(GetDimensions(info, p, rank), "GetDimensions");
                }

                return dims;
            }
            finally
            {
                ReleaseTensorTypeAndShapeInfo(info);
            }
        }

        /// <summary>Checks that the entries used behave as expected, so a mismatched native library fails clearly here.</summary>
        public void SelfTest()
        {
            var probe = "onnxgpt-probe\0"u8;
            fixed (byte* text = probe)
            {
                var status = CreateStatus(1, text);
                if (status == IntPtr.Zero || Marshal.PtrToStringUTF8(GetErrorMessage(status)) != "onnxgpt-probe")
                {
                    throw new GptException("The ONNX Runtime native library's C API does not match the layout OnnxGpt expects; use Microsoft.ML.OnnxRuntime 1.16 or later.");
                }

                ReleaseStatus(status);
            }

            var buffer = stackalloc long[6];
            var shape = stackalloc long[2] { 2, 3 };
            IntPtr value;
            var memoryInfo = OrtMemoryInfo.DefaultInstance.DangerousGetHandle();
            Check(CreateTensorWithData(memoryInfo, buffer, 6 * sizeof(long), shape, 2, (int)Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64, &value), "CreateTensorWithDataAsOrtValue");
            try
            {
                void* data;
                Check(GetTensorMutableData(value, &data), "GetTensorMutableData");
                var dims = GetShape(value);
                if (data != buffer || dims.Length != 2 || dims[0] != 2 || dims[1] != 3)
                {
                    throw new GptException("The ONNX Runtime native library's C API does not match the layout OnnxGpt expects; use Microsoft.ML.OnnxRuntime 1.16 or later.");
                }
            }
            finally
            {
                ReleaseValue(value);
            }

            Check(CreateTensor(OrtAllocator.DefaultInstance.DangerousGetHandle(), shape, 2, (int)Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float, &value), "CreateTensorAsOrtValue");
            try
            {
                var dims = GetShape(value);
                if (dims.Length != 2 || dims[0] != 2 || dims[1] != 3)
                {
                    throw new GptException("The ONNX Runtime native library's C API does not match the layout OnnxGpt expects; use Microsoft.ML.OnnxRuntime 1.16 or later.");
                }
            }
            finally
            {
                ReleaseValue(value);
            }
        }
    }
}
