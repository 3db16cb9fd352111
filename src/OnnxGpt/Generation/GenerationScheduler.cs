using System.Collections.Concurrent;

namespace OnnxGpt.Generation;

/// <summary>
/// Continuous batching for one model: every active request of the model runs in one session run per step of the
/// model's <see cref="GenerationEngine"/>. A request that arrives while the model is idle runs alone on its caller's
/// thread (<see cref="DriveAlone"/>: no hand-off between threads per token, as without batching); the moment a second
/// request arrives, a background thread takes over the engine at the next step boundary, the lone row's cache and
/// state intact, and runs every row together; the requests that arrive later join at the next iteration. The thread
/// sleeps while there is nothing to run. Disposing it (with the model) ends every row with
/// <see cref="ObjectDisposedException"/>.
/// </summary>
/// <remarks>
/// Exactly one driver iterates the engine at a time, holding <see cref="_engineLock"/> for one iteration: nobody
/// while the model is idle, the lone row's reader, or the thread. <see cref="_gate"/> guards who drives.
/// </remarks>
internal sealed class GenerationScheduler : IDisposable
{
    private readonly GenerationEngine _engine;
    private readonly ConcurrentQueue<GenerationRow> _inbox = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Lock _gate = new();
    private readonly Lock _engineLock = new();
    private readonly Func<bool> _arrivals;
    private Thread? _thread;
    private GenerationRow? _alone;
    private bool _threadDrives;
    private volatile bool _disposed;

    public GenerationScheduler(GptModel model, int maxBatchSize)
    {
        _engine = new GenerationEngine(model, maxBatchSize);
        _arrivals = TakeArrivals;
    }

    /// <summary>The most requests one step has run together so far.</summary>
    public int PeakRows => _engine.PeakRows;

    /// <summary>The scheduler's thread, once a second concurrent request started it (for tests).</summary>
    internal Thread? Thread => _thread;

    /// <summary>
    /// Hands a row to the engine; its tokens arrive on <see cref="GenerationRow.Tokens"/>. True when the row is the
    /// model's only request: its reader then runs it with <see cref="DriveAlone"/> until that returns false.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public bool Submit(GenerationRow row)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(GptModel));
            if (_alone is null && !_threadDrives)
            {
                // Idle: nobody iterates the engine, and it holds no row.
                _engine.Add(row);
                _alone = row;
                return true;
            }

            _inbox.Enqueue(row);
            _alone = null;
            _threadDrives = true;
            if (_thread is null)
            {
                _thread = new Thread(Loop) { IsBackground = true, Name = "OnnxGpt batch scheduler" };
                _thread.Start();
            }

            _wake.Set();
            return false;
        }
    }

    /// <summary>
    /// One iteration of the engine for the lone <paramref name="row"/>, on the caller's thread. False when another
    /// request arrived meanwhile: the thread runs the row from now on, and its reader waits for its tokens.
    /// </summary>
    public bool DriveAlone(GenerationRow row)
    {
        lock (_engineLock)
        {
            lock (_gate)
            {
                if (_disposed)
                {
                    // The rows end with ObjectDisposedException (the thread, if any, does the same under this lock).
                    _engine.Dispose();
                    return true;
                }

                if (!ReferenceEquals(_alone, row))
                {
                    return false;
                }
            }

            _engine.Iterate();
            lock (_gate)
            {
                if (ReferenceEquals(_alone, row) && _engine.Count == 0)
                {
                    _alone = null;
                }
            }

            return true;
        }
    }

    /// <summary>
    /// The lone row's reader stops early (the stream was disposed, or its consumer threw): the row is dropped now, as
    /// nobody else would run it.
    /// </summary>
    public void Leave(GenerationRow row)
    {
        row.Abandon();
        lock (_gate)
        {
            if (!ReferenceEquals(_alone, row))
            {
                return;
            }
        }

        DriveAlone(row);
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (_thread is null)
            {
                // A lone row's reader ends its row at its next iteration.
                _wake.Dispose();
                return;
            }
        }

        // The loop ends its current step, fails every row and disposes the event.
        _wake.Set();
    }

    private void Loop()
    {
        while (true)
        {
            bool drive;
            lock (_gate)
            {
                drive = _threadDrives || _disposed;
            }

            if (!drive)
            {
                _wake.WaitOne();
                continue;
            }

            lock (_engineLock)
            {
                if (_disposed)
                {
                    _engine.Dispose();
                    lock (_gate)
                    {
                        while (_inbox.TryDequeue(out var late))
                        {
                            _engine.Add(late);
                        }

                        _wake.Dispose();
                    }

                    return;
                }

                TakeArrivals();
                if (_engine.Count > 0)
                {
                    _engine.Iterate(_arrivals);
                }

                GenerationRow? handBack = null;
                lock (_gate)
                {
                    if (_engine.Count == 0 && _inbox.IsEmpty)
                    {
                        // Idle again: the next request runs alone on its caller's thread.
                        _threadDrives = false;
                    }
                    else if (_inbox.IsEmpty && _engine.LoneRunning is { Abandoned: false } lone)
                    {
                        // The batch shrank back to one row: its reader drives it again, as a first lone request.
                        _alone = lone;
                        _threadDrives = false;
                        handBack = lone;
                    }
                }

                if (handBack is not null)
                {
                    // From a pool thread, so that the reader's continuation does not run (and drive) on this one.
                    ThreadPool.UnsafeQueueUserWorkItem(static row => row.Emit(GenerationRow.HandBack), handBack, preferLocal: false);
                }
            }
        }
    }

    private bool TakeArrivals()
    {
        var any = false;
        while (_inbox.TryDequeue(out var row))
        {
            _engine.Add(row);
            any = true;
        }

        return any;
    }
}
