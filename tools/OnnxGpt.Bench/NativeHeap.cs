using System.Runtime.InteropServices;

namespace OnnxGpt.Bench;

/// <summary>
/// Hands the C heap's free pages back to the operating system (glibc's <c>malloc_trim</c>), so that what an earlier
/// implementation or the GGUF writer freed but glibc kept does not count in the next implementation's working set.
/// Elsewhere (or with another C library) it does nothing.
/// </summary>
internal static partial class NativeHeap
{
    /// <summary>Returns free heap memory to the system where the platform allows; true when it did.</summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            return MallocTrim(0) != 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // musl has no malloc_trim: the working set then includes what the heap keeps.
            GC.KeepAlive(ex);
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
