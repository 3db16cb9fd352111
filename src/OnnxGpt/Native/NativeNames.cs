using System.Runtime.InteropServices;
using System.Text;

namespace OnnxGpt.Native;

/// <summary>
/// A graph's input and output names as null-terminated UTF-8 strings in native memory, made once per model and
/// owned by this handle: the block is freed once, on <see cref="SafeHandle.Dispose()"/> or, if that is missed, by the
/// finalizer.
/// </summary>
internal sealed unsafe class NativeNames : SafeHandle
{
    public NativeNames(IReadOnlyList<string> inputs, IReadOnlyList<string> outputs)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        var names = inputs.Concat(outputs).ToArray();
        var bytes = names.Sum(n => Encoding.UTF8.GetByteCount(n) + 1);
        var pointers = names.Length * sizeof(IntPtr);
        SetHandle((IntPtr)NativeMemory.Alloc((nuint)(pointers + bytes)));
        var table = (IntPtr*)handle;
        var text = (byte*)handle + pointers;
        for (var i = 0; i < names.Length; i++)
        {
            table[i] = (IntPtr)text;
            var written = Encoding.UTF8.GetBytes(names[i], new Span<byte>(text, bytes));
            text[written] = 0;
            text += written + 1;
            bytes -= written + 1;
        }

        Inputs = table;
        Outputs = table + inputs.Count;
        InputCount = inputs.Count;
        OutputCount = outputs.Count;
    }

    public IntPtr* Inputs { get; }

    public IntPtr* Outputs { get; }

    public int InputCount { get; }

    public int OutputCount { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle()
    {
        NativeMemory.Free((void*)handle);
        return true;
    }
}
