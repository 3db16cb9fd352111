using System.Text;

namespace OnnxGpt.Cli;

/// <summary>
/// A writer over standard output or error that never throws for a closed reader: the first failed write marks it
/// closed and calls <c>onClosed</c> (stdout: cancel the generation), and later writes are dropped. A tool whose
/// stderr is closed (cron, daemons, <c>2&gt;&amp;-</c>) keeps working; one whose stdout reader left stops quietly.
/// </summary>
internal sealed class GuardedWriter : TextWriter
{
    private readonly StreamWriter _inner;
    private readonly Action? _onClosed;

    public GuardedWriter(Stream stream, Action? onClosed = null)
    {
        _inner = new StreamWriter(stream, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 4096, leaveOpen: false) { AutoFlush = true };
        _onClosed = onClosed;
    }

    /// <summary>Whether a write failed because the reader or the descriptor is gone.</summary>
    public bool IsClosed { get; private set; }

    public override Encoding Encoding => _inner.Encoding;

    public override void Write(char value)
    {
        if (IsClosed)
        {
            return;
        }

        try
        {
            _inner.Write(value);
        }
        catch (IOException)
        {
            MarkClosed();
        }
    }

    public override void Write(string? value) => Write(value.AsSpan());

    public override void Write(char[] buffer, int index, int count) => Write(buffer.AsSpan(index, count));

    public override void Write(ReadOnlySpan<char> buffer)
    {
        if (IsClosed)
        {
            return;
        }

        try
        {
            _inner.Write(buffer);
        }
        catch (IOException)
        {
            MarkClosed();
        }
    }

    public override void WriteLine() => Write(CoreNewLine);

    public override void WriteLine(string? value)
    {
        Write(value.AsSpan());
        Write(CoreNewLine);
    }

    public override void Flush()
    {
        if (IsClosed)
        {
            return;
        }

        try
        {
            _inner.Flush();
        }
        catch (IOException)
        {
            MarkClosed();
        }
    }

    // Console writes are synchronous anyway; these avoid TextWriter's default of queueing each call to the thread pool.
    public override Task WriteAsync(char value)
    {
        Write(value);
        return Task.CompletedTask;
    }

    public override Task WriteAsync(string? value)
    {
        Write(value.AsSpan());
        return Task.CompletedTask;
    }

    public override Task WriteAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return Task.CompletedTask;
    }

    public override Task WriteLineAsync()
    {
        WriteLine();
        return Task.CompletedTask;
    }

    public override Task WriteLineAsync(string? value)
    {
        WriteLine(value);
        return Task.CompletedTask;
    }

    public override Task WriteLineAsync(ReadOnlyMemory<char> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        WriteLine();
        return Task.CompletedTask;
    }

    public override Task FlushAsync()
    {
        Flush();
        return Task.CompletedTask;
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        Flush();
        return Task.CompletedTask;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                _inner.Dispose();
            }
            catch (IOException)
            {
                // The reader is gone: what was still buffered cannot be written anywhere.
            }
        }

        base.Dispose(disposing);
    }

    private void MarkClosed()
    {
        IsClosed = true;
        _onClosed?.Invoke();
    }
}
