using System.Collections.Concurrent;

namespace OnnxGpt.Generation;

/// <summary>
/// Continuous batching for one model: a background thread drives the model's <see cref="GenerationEngine"/>, so that
/// every active request runs in one session run per step. Requests arrive at any time and join the running batch
/// at the next iteration; the thread sleeps while there is nothing to run. Disposing it (with the model) ends every
/// row with <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class GenerationScheduler : IDisposable
{
    private readonly GenerationEngine _engine;
    private readonly ConcurrentQueue<GenerationRow> _inbox = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly Lock _gate = new();
    private readonly Func<bool> _arrivals;
    private Thread? _thread;
    private volatile bool _disposed;

    public GenerationScheduler(GptModel model, int maxBatchSize)
    {
        _engine = new GenerationEngine(model, maxBatchSize);
        _arrivals = TakeArrivals;
    }

    /// <summary>The most requests one step has run together so far.</summary>
    public int PeakRows => _engine.PeakRows;

    /// <summary>Hands a row to the loop; its tokens arrive on <see cref="GenerationRow.Tokens"/>.</summary>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    public void Submit(GenerationRow row)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, typeof(GptModel));
            _inbox.Enqueue(row);
            if (_thread is null)
            {
                _thread = new Thread(Loop) { IsBackground = true, Name = "OnnxGpt batch scheduler" };
                _thread.Start();
            }

            _wake.Set();
        }
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
            TakeArrivals();
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

            if (_engine.Count == 0)
            {
                _wake.WaitOne();
                continue;
            }

            _engine.Iterate(_arrivals);
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
