using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace OnnxGpt.Bench;

/// <summary>
/// Samples the process's working set every ~10 ms on a dedicated thread and keeps the maximum since the last
/// <see cref="ResetPeak"/>. On Linux it reads <c>/proc/self/statm</c> into a reused buffer, so it allocates nothing
/// per sample; whatever it does allocate is counted in <see cref="AllocatedBytes"/> so that allocation measurements
/// can leave it out.
/// </summary>
internal sealed class WorkingSetSampler : IDisposable
{
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _stop = new();
    private readonly SafeFileHandle? _statm;
    private readonly byte[] _buffer = new byte[256];
    private readonly long _pageSize = Environment.SystemPageSize;
    private long _peak;
    private long _allocated;

    public WorkingSetSampler(int intervalMs = 10)
    {
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _statm = File.OpenHandle("/proc/self/statm");
                if (ReadStatm() <= 0)
                {
                    _statm.Dispose();
                    _statm = null;
                }
            }
            catch (IOException)
            {
                _statm = null;
            }
        }

        _peak = Current();
        _thread = new Thread(() => Loop(intervalMs)) { IsBackground = true, Name = "OnnxGpt.Bench working-set sampler", Priority = ThreadPriority.AboveNormal };
        _thread.Start();
    }

    /// <summary>Managed bytes this sampler's thread has allocated so far.</summary>
    public long AllocatedBytes => Volatile.Read(ref _allocated);

    /// <summary>The highest working set seen since the last reset, in bytes.</summary>
    public long Peak
    {
        get
        {
            Observe(Current());
            return Volatile.Read(ref _peak);
        }
    }

    /// <summary>Starts a new peak from the current working set.</summary>
    public void ResetPeak() => Volatile.Write(ref _peak, Current());

    public void Dispose()
    {
        _stop.Set();
        _thread.Join();
        _stop.Dispose();
        _statm?.Dispose();
    }

    private void Loop(int intervalMs)
    {
        var baseline = GC.GetAllocatedBytesForCurrentThread();
        while (!_stop.Wait(intervalMs))
        {
            Observe(Current());
            Volatile.Write(ref _allocated, GC.GetAllocatedBytesForCurrentThread() - baseline);
        }
    }

    private void Observe(long value)
    {
        var peak = Volatile.Read(ref _peak);
        while (value > peak)
        {
            var seen = Interlocked.CompareExchange(ref _peak, value, peak);
            if (seen == peak)
            {
                break;
            }

            peak = seen;
        }
    }

    private long Current()
    {
        if (_statm is not null)
        {
            lock (_buffer)
            {
                var value = ReadStatm();
                if (value > 0)
                {
                    return value;
                }
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }

    /// <summary>Resident pages (statm's second field) times the page size; 0 when unreadable.</summary>
    private long ReadStatm()
    {
        int read;
        try
        {
            read = RandomAccess.Read(_statm!, _buffer, 0);
        }
        catch (IOException)
        {
            return 0;
        }

        var i = 0;
        while (i < read && _buffer[i] != (byte)' ')
        {
            i++;
        }

        i++;
        long pages = 0;
        var digits = 0;
        for (; i < read && _buffer[i] is >= (byte)'0' and <= (byte)'9'; i++, digits++)
        {
            pages = (pages * 10) + (_buffer[i] - '0');
        }

        return digits > 0 ? pages * _pageSize : 0;
    }
}
