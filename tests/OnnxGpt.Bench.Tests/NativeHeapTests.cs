using System.Runtime.InteropServices;
using OnnxGpt.Bench;

namespace OnnxGpt.Bench.Tests;

/// <summary>The bench hands freed C heap pages back before each implementation's peak working set starts.</summary>
public sealed class NativeHeapTests
{
    [Test]
    public void Freed_small_blocks_go_back_to_the_system_on_linux()
    {
        // Small blocks come from the heap itself (large ones are mmap'ed and unmapped at once): 32 MB of them, freed.
        var page = new byte[4096];
        Array.Fill(page, (byte)1);
        var blocks = new IntPtr[8192];
        for (var i = 0; i < blocks.Length; i++)
        {
            blocks[i] = Marshal.AllocHGlobal(page.Length);
            Marshal.Copy(page, 0, blocks[i], page.Length);
        }

        foreach (var block in blocks)
        {
            Marshal.FreeHGlobal(block);
        }

        Assert.That(NativeHeap.Trim(), Is.EqualTo(OperatingSystem.IsLinux()));
    }
}
