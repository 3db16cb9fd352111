using System.Diagnostics;
using System.Runtime.ExceptionServices;
using OnnxGpt.Generation.Decoding;
using OnnxGpt.Models;
using OnnxGpt.Telemetry;

namespace OnnxGpt.Generation;

/// <summary>
/// The one generation loop, over a <see cref="RowDecoder"/> (the model's own sessions, or another backend's
/// <see cref="GptDecoder"/>). Each <see cref="Iterate"/> retires cancelled and abandoned rows, admits waiting rows
/// within the prefill budget (the decoder runs their prompts, and each row's first token is sampled as soon as its
/// own prompt has run), then runs one step of every running row and samples each row's next token. Single requests,
/// batches, next-token distributions and concurrent requests (through <see cref="GenerationScheduler"/>) all run
/// here; each row keeps its own sampler, stops, seed and finish reason, and a failure in one row's sampling ends only
/// that row. Retiring, sampling, finishing, cancellation and publishing are the same for every backend.
/// </summary>
internal sealed class GenerationEngine : IDisposable
{
    /// <summary>Prompt tokens run per iteration by default (a longer prompt runs in chunks of this size), so running rows wait at most one chunk.</summary>
    internal const int DefaultPrefillBudget = 512;

    /// <summary>
    /// Padded prompt tokens one prefill run takes together by default: simultaneous short prompts run in groups of
    /// this size, each group's first tokens sampled when its run ends, so that the first requests do not wait for
    /// every prompt of a burst.
    /// </summary>
    internal const int DefaultPrefillGroupTokens = 64;

    private readonly RowDecoder _decoder;
    private readonly int _maxRows;
    private readonly List<GenerationRow> _pending = [];
    private readonly List<GenerationRow> _running = [];
    private readonly List<GenerationRow> _ended = [];
    private readonly TagList _tags;
    private bool _disposed;
    private int _budget;

    public GenerationEngine(GptModel model, int maxRows, int prefillBudget = DefaultPrefillBudget, int prefillGroupTokens = DefaultPrefillGroupTokens)
        : this(new SessionRowDecoder(model, Math.Max(1, maxRows), prefillGroupTokens), model.Info, maxRows, prefillBudget)
    {
    }

    /// <summary>An engine whose rows run on another backend's sequences.</summary>
    public GenerationEngine(GptDecoder decoder, int maxRows, int prefillBudget = DefaultPrefillBudget)
        : this(new SequenceRowDecoder(decoder), decoder.Info, maxRows, prefillBudget)
    {
    }

    private GenerationEngine(RowDecoder decoder, GptModelInfo info, int maxRows, int prefillBudget)
    {
        _decoder = decoder;
        _maxRows = Math.Max(1, maxRows);
        PrefillBudget = Math.Max(1, prefillBudget);
        _tags = GenAIInstruments.Tags(GenAIInstruments.ModelName(info.ModelPath));
    }

    /// <summary>Prompt tokens run per iteration at most.</summary>
    public int PrefillBudget { get; }

    /// <summary>Rows waiting or running.</summary>
    public int Count => _pending.Count + _running.Count;

    /// <summary>Rows in the running batch.</summary>
    public int Running => _running.Count;

    /// <summary>The engine's only row when it holds exactly one, prefilled and running; otherwise null.</summary>
    public GenerationRow? LoneRunning => _pending.Count == 0 && _running.Count == 1 ? _running[0] : null;

    /// <summary>The most rows one step has run together so far.</summary>
    public int PeakRows { get; private set; }

    /// <summary>How many times the batch was copied whole (joins and leaves copy one row where they can; for tests).</summary>
    public int Rebuilds => _decoder.Rebuilds;

    /// <summary>Queues a row; it is admitted at the next iteration with room.</summary>
    public void Add(GenerationRow row)
    {
        if (_disposed)
        {
            row.Retire(new ObjectDisposedException(nameof(GptModel)));
            row.Publish();
            return;
        }

        _pending.Add(row);
    }

    /// <summary>One iteration: retire, admit, step; then hand ended rows their last token.</summary>
    /// <param name="arrivals">
    /// Called after the waiting prompts ran: adds rows that arrived meanwhile and says whether there were any; they are
    /// admitted before the step, within what is left of the prefill budget (so that requests arriving together
    /// get their first tokens together).
    /// </param>
    public void Iterate(Func<bool>? arrivals = null)
    {
        try
        {
            Retire(_pending);
            if (Retire(_running))
            {
                _decoder.Invalidate();
            }

            _budget = PrefillBudget;
            Admit();
            if (_budget > 0 && arrivals?.Invoke() == true)
            {
                Admit();
            }

            if (_running.Count > 0)
            {
                Step();
            }
        }
        finally
        {
            Publish();
        }
    }

    /// <summary>
    /// Runs <paramref name="row"/> on the caller's thread, as this engine's only row: iterates whenever its reader has
    /// read every token it was given, and rethrows the row's failure once its stream ends. A reader that stops early
    /// leaves the row to the engine's disposal.
    /// </summary>
    public async IAsyncEnumerable<GeneratedToken> RunAloneAsync(GenerationRow row)
    {
        Add(row);
        while (true)
        {
            while (row.Tokens.TryRead(out var token))
            {
                yield return token;

                // A caller with a synchronization context (a UI) must not run the model on its thread.
                await ThreadPoolSwitch.IfNeeded();
            }

            if (row.Tokens.Completion.IsCompleted)
            {
                break;
            }

            Iterate();
        }

        if (row.Failure is { } failure)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    /// <summary>Ends every row (disposed model or engine) and releases every cache.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        var failure = new ObjectDisposedException(nameof(GptModel), "The model was disposed while the request ran.");
        foreach (var row in _pending)
        {
            Finish(row, failure);
        }

        foreach (var row in _running)
        {
            Finish(row, failure);
        }

        _pending.Clear();
        _running.Clear();
        Publish();
    }

    /// <summary>
    /// Called by the decoder as soon as a row's whole prompt has run: samples its first token from the prompt's scores
    /// (or takes the decoder's choice); the row then joins the running rows, or ends.
    /// </summary>
    internal void First(GenerationRow row)
    {
        row.Admitted = true;
        if (row.DistributionOnly)
        {
            row.DistributionLogits = _decoder.Logits(row).ToArray();
            Finish(row, null);
            _decoder.Drop(row);
            return;
        }

        GeneratedToken token;
        try
        {
            token = Sample(row);
        }
        catch (Exception ex)
        {
            // A throwing custom stage ends its own row only.
            Finish(row, ex);
            _decoder.Drop(row);
            return;
        }

        if (token.Result is not null)
        {
            End(row, token);
            _decoder.Drop(row);
            return;
        }

        row.Emit(token);
        _running.Add(row);
        _decoder.Join(row, _running.Count);
    }

    /// <summary>Ends a row that failed (a cancelled run ends it as cancelled, with what it produced).</summary>
    internal void Fail(GenerationRow row, Exception ex)
    {
        var failure = ex is OperationCanceledException && row.CancellationToken.IsCancellationRequested
            ? new GenerationCanceledException(row.State.BuildResult(FinishReason.Cancelled), row.CancellationToken)
            : ex;
        Finish(row, failure);
    }

    /// <summary>Ends a row with its result; its conversation keeps its cache.</summary>
    internal void End(GenerationRow row, GeneratedToken last)
    {
        _decoder.Keep(row, _running.Count);
        Finish(row, null, last);
    }

    private void Finish(GenerationRow row, Exception? failure, GeneratedToken? last = null)
    {
        if (row.Ended)
        {
            return;
        }

        row.Retire(failure, last);
        _ended.Add(row);
    }

    /// <summary>Records how many rows the step about to run holds (<c>onnxgpt.batch.size</c>), only while someone listens.</summary>
    private void RecordBatchSize(int rows)
    {
        if (GenAIInstruments.BatchSize.Enabled)
        {
            GenAIInstruments.BatchSize.Record(rows, _tags);
        }
    }

    /// <summary>Drops cancelled and abandoned rows; true when any left.</summary>
    private bool Retire(List<GenerationRow> rows)
    {
        var kept = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row.Abandoned)
            {
                Finish(row, null);
            }
            else if (row.CancellationToken.IsCancellationRequested)
            {
                Finish(row, new GenerationCanceledException(row.State.BuildResult(FinishReason.Cancelled), row.CancellationToken));
            }
            else if (!row.Ended)
            {
                rows[kept++] = row;
            }
        }

        var left = rows.Count - kept;
        rows.RemoveRange(kept, left);
        return left > 0;
    }

    /// <summary>Runs waiting prompts within what is left of the prefill budget and the free rows; rows whose prompt ran, failed or was cancelled leave the queue.</summary>
    private void Admit()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        _budget = _decoder.Admit(_pending, _budget, _maxRows - _running.Count, this);
        _pending.RemoveAll(static row => row.Admitted || row.Ended);
        _decoder.Admitted(_running, this);
        if (_running.Exists(static row => row.Ended))
        {
            _decoder.RemoveEnded(_running);
        }
    }

    /// <summary>One step of every running row, then each row's next token; a row that ends leaves at once.</summary>
    private void Step()
    {
        var count = _running.Count;
        PeakRows = Math.Max(PeakRows, count);
        RecordBatchSize(count);
        if (!_decoder.Step(_running, this))
        {
            foreach (var row in _running)
            {
                if (row.Ended)
                {
                    continue;
                }

                try
                {
                    var token = Sample(row);
                    if (token.Result is null)
                    {
                        row.Emit(token);
                    }
                    else
                    {
                        End(row, token);
                    }
                }
                catch (Exception ex)
                {
                    // A throwing custom stage ends its own row only.
                    Finish(row, ex);
                }
            }
        }

        if (_running.Exists(static row => row.Ended))
        {
            _decoder.RemoveEnded(_running);
        }
    }

    /// <summary>A row's next token: the decoder's own choice, or the row's sampler over the decoder's scores.</summary>
    private GeneratedToken Sample(GenerationRow row) =>
        _decoder.TryGetChosen(row, out var id, out var done) ? row.State.Accept(id, done) : row.State.Advance(_decoder.Logits(row));

    /// <summary>Releases what no row needs (the batch when no row runs, so that an idle model rents no cache), then hands ended rows their last token.</summary>
    private void Publish()
    {
        _decoder.Settle(_running.Count == 0);
        foreach (var row in _ended)
        {
            _decoder.Release(row);
            row.Speculation?.Dispose();
            row.Publish();
        }

        _ended.Clear();
    }
}
