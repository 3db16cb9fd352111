using System.Runtime.InteropServices;

namespace OnnxGpt.Cli;

/// <summary>
/// Standard output or error as a stream that reports a closed or broken descriptor instead of hiding it. .NET's console
/// stream ignores EPIPE, so <c>onnxgpt generate | head -c 10</c> would generate to the end; here a write to a closed
/// pipe or descriptor throws <see cref="IOException"/>, which <see cref="GuardedWriter"/> turns into cancellation.
/// </summary>
internal sealed partial class StandardStream : Stream
{
    private const int EINTR = 4;
    private const int EAGAIN = 11;

    private readonly int _descriptor;

    private StandardStream(int descriptor) => _descriptor = descriptor;

    /// <summary>File descriptor 1 or 2 (Unix), else the console's own stream.</summary>
    public static Stream Open(int descriptor)
    {
        if (!OperatingSystem.IsWindows())
        {
            return new StandardStream(descriptor);
        }

        try
        {
            return descriptor == 1 ? Console.OpenStandardOutput() : Console.OpenStandardError();
        }
        catch (IOException)
        {
            // No console handle (a service): nothing to write to.
            return Null;
        }
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        // write(2), not pwrite: output appended to a file the shell shares with other commands keeps their order.
        while (buffer.Length > 0)
        {
            var written = SysWrite(_descriptor, buffer, buffer.Length);
            if (written < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is EINTR or EAGAIN)
                {
                    continue;
                }

                throw new IOException($"Writing to file descriptor {_descriptor} failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
            }

            buffer = buffer[(int)written..];
        }
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint SysWrite(int descriptor, ReadOnlySpan<byte> buffer, nint count);
}
