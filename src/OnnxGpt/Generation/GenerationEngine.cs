using System.Diagnostics;
using OnnxGpt.Generation.Decoding;
using OnnxGpt.Models;
using OnnxGpt.Telemetry;

namespace OnnxGpt.Generation;

/// <summary>
/// The one generation loop. Each <see cref="Iterate"/> retires cancelled and abandoned rows, admits waiting rows
/// (their prompts run together, left-padded, or alone in bounded chunks), samples their first tokens and joins them
/// to the running batch, then runs one step for every running row in one session run and samples each row's next
/// token. A row that ends leaves at once: the batch's last row takes its slot (or, for a combined cache, the batch is
/// rebuilt without it), and the padding the longest rows leave behind is dropped once it is a quarter of every row. Single requests, batches, next-token distributions and concurrent
/// requests (through <see cref="GenerationScheduler"/>) all run here; each row keeps its own sampler, stops, seed
/// and finish reason, and a failure in one row's sampling ends only that row. A <see cref="GptDecoder"/> (another
/// backend) plugs in instead of the model's own sessions: each row then runs its <see cref="DecoderSequence"/>, and
/// retiring, admitting, sampling, finishing, conversations and publishing are the same.
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

    /// <summary>Padding every row carries before the batch is compacted, at least (and at least a quarter of its length).</summary>
    private const int MinimumCompaction = 16;

    private readonly GptModel? _ownModel;
    private readonly GptDecoder? _decoder;
    private readonly int[] _one = new int[1];
    private readonly int _maxRows;
    private readonly int _prefillBudget;
    private readonly int _groupTokens;
    private readonly int _vocabulary;
    private readonly int _pad;
    private readonly List<GenerationRow> _pending = [];
    private readonly List<GenerationRow> _running = [];
    private readonly List<GenerationRow> _ended = [];
    private readonly List<GenerationRow> _group = [];
    private readonly List<GenerationRow> _ready = [];
    private readonly List<GenerationRow> _taken = [];
    private readonly List<DecoderSession> _spent = [];
    private readonly List<IReadOnlyList<int>> _groupPrompts = [];
    private readonly RowSource[] _sources;
    private readonly int[] _next;
    private readonly TagList _tags;
    private DecoderSession? _batch;
    private bool _dirty;
    private bool _disposed;
    private int _budget;

    public GenerationEngine(GptModel model, int maxRows, int prefillBudget = DefaultPrefillBudget, int prefillGroupTokens = DefaultPrefillGroupTokens)
        : this(model.Info, maxRows, prefillBudget, prefillGroupTokens)
    {
        _ownModel = model;
    }

    /// <summary>An engine whose rows run on another backend's sequences.</summary>
    public GenerationEngine(GptDecoder decoder, int maxRows, int prefillBudget = DefaultPrefillBudget)
        : this(decoder.Info, maxRows, prefillBudget, prefillBudget)
    {
        _decoder = decoder;
    }

    private GenerationEngine(GptModelInfo info, int maxRows, int prefillBudget, int prefillGroupTokens)
    {
        _maxRows = Math.Max(1, maxRows);
        _prefillBudget = Math.Max(1, prefillBudget);
        _groupTokens = Math.Max(1, prefillGroupTokens);
        _vocabulary = info.VocabularySize;
        _pad = info.PadTokenId ?? (info.EosTokenIds.Count > 0 ? info.EosTokenIds[0] : 0);
        _sources = new RowSource[_maxRows];
        _next = new int[_maxRows];
        _tags = GenAIInstruments.Tags(GenAIInstruments.ModelName(info.ModelPath));
    }

    /// <summary>Records how many rows the step about to run holds (<c>onnxgpt.batch.size</c>), only while someone listens.</summary>
    private void RecordBatchSize(int rows)
    {
        if (GenAIInstruments.BatchSize.Enabled)
        {
            GenAIInstruments.BatchSize.Record(rows, _tags);
        }
    }

    private GptModel Model => _ownModel!;

    /// <summary>Rows waiting or running.</summary>
    public int Count => _pending.Count + _running.Count;

    /// <summary>Rows in the running batch.</summary>
    public int Running => _running.Count;

    /// <summary>The engine's only row when it holds exactly one, prefilled and running; otherwise null.</summary>
    public GenerationRow? LoneRunning => _pending.Count == 0 && _running.Count == 1 ? _running[0] : null;

    /// <summary>The most rows one step has run together so far.</summary>
    public int PeakRows { get; private set; }

    /// <summary>How many times the batch was copied whole (joins and leaves copy one row where they can; for tests).</summary>
    public int Rebuilds { get; private set; }

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
            Retire(_running);
            _budget = _prefillBudget;
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
            row.Retire(failure);
            _ended.Add(row);
        }

        foreach (var row in _running)
        {
            row.Retire(failure);
            _ended.Add(row);
        }

        _pending.Clear();
        _running.Clear();
        Publish();
    }

    private void Retire(List<GenerationRow> rows)
    {
        var kept = 0;
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            if (row.Abandoned)
            {
                row.Retire(null);
            }
            else if (row.CancellationToken.IsCancellationRequested)
            {
                row.Retire(new GenerationCanceledException(row.State.BuildResult(FinishReason.Cancelled), row.CancellationToken));
            }

            if (row.Ended)
            {
                _ended.Add(row);
                _dirty |= ReferenceEquals(rows, _running);
            }
            else
            {
                rows[kept++] = row;
            }
        }

        rows.RemoveRange(kept, rows.Count - kept);
    }

    /// <summary>
    /// Runs waiting prompts within the prefill budget's tokens and the free rows, and samples each one's first token as
    /// soon as its own run ends (not after every waiting prompt ran), so that the first of several simultaneous
    /// requests gets its first token after its own prefill. Short prompts (at most one prefill group's tokens) go first,
    /// first come first served: fresh ones run together in left-padded groups of at most
    /// <see cref="DefaultPrefillGroupTokens"/> padded tokens, a kept conversation's new tokens alone on its session.
    /// Then the oldest longer prompt runs one chunk with what is left of the budget (at least one group's tokens are
    /// kept for it, so short prompts never starve it). Each finished prompt's row joins the batch at the next step.
    /// </summary>
    private void Admit()
    {
        if (_pending.Count == 0)
        {
            return;
        }

        if (_decoder is not null)
        {
            AdmitSequences(_decoder);
            return;
        }

        var group = Math.Min(_groupTokens, _prefillBudget);
        var budget = _budget;
        var longWaiting = false;
        foreach (var row in _pending)
        {
            longWaiting |= Remaining(row) > group;
        }

        // Short prompts first, leaving at least one group's tokens to a longer prompt that waits.
        var shortBudget = longWaiting ? budget - group : budget;
        var free = _maxRows - _running.Count;
        var longest = 0;
        for (var i = 0; i < _pending.Count && free > 0 && shortBudget > 0; i++)
        {
            var row = _pending[i];
            var remaining = Remaining(row);
            if (remaining > group)
            {
                continue;
            }

            if (row.Session is not null)
            {
                if (remaining > shortBudget)
                {
                    break;
                }

                RunGroupNow(ref longest);
                shortBudget -= remaining;
                budget -= remaining;
                free--;
                _taken.Add(row);
                if (RunChunk(row, row.State.PromptIds.Count))
                {
                    First(row);
                }

                continue;
            }

            var width = Math.Max(longest, remaining);
            if ((_group.Count + 1) * width > group)
            {
                RunGroupNow(ref longest);
                width = remaining;
            }

            if (width > shortBudget)
            {
                break;
            }

            // The group's padded tokens are charged as it grows: (n + 1) * width - n * longest.
            var cost = ((_group.Count + 1) * width) - (_group.Count * longest);
            if (cost > shortBudget)
            {
                RunGroupNow(ref longest);
                if (remaining > shortBudget)
                {
                    break;
                }

                width = remaining;
                cost = remaining;
            }

            shortBudget -= cost;
            budget -= cost;
            longest = width;
            _group.Add(row);
            _taken.Add(row);
            free--;
        }

        RunGroupNow(ref longest);

        // Then one chunk of the oldest longer prompt.
        if (budget > 0 && free > 0)
        {
            foreach (var row in _pending)
            {
                if (row.Ended || _taken.Contains(row) || Remaining(row) <= group)
                {
                    continue;
                }

                var end = row.PrefilledTokens + Math.Min(Remaining(row), budget);
                budget -= end - row.PrefilledTokens;
                if (RunChunk(row, end))
                {
                    _taken.Add(row);
                    First(row);
                }

                break;
            }
        }

        // Rows whose prompt ran, failed or was cancelled leave the queue (the failed ones are retired too).
        var kept = 0;
        for (var i = 0; i < _pending.Count; i++)
        {
            var row = _pending[i];
            if (_taken.Contains(row) || row.Ended)
            {
                if (row.Ended && !_ended.Contains(row))
                {
                    _ended.Add(row);
                }

                continue;
            }

            _pending[kept++] = row;
        }

        _pending.RemoveRange(kept, _pending.Count - kept);
        _taken.Clear();
        _budget = budget;
        if (_dirty && _running.Count > 0)
        {
            RebuildBatch();
        }

        DisposeSpent();
    }

    private static int Remaining(GenerationRow row) => row.State.PromptIds.Count - row.PrefilledTokens;

    /// <summary>Runs the group gathered so far, if any, and samples its rows' first tokens at once.</summary>
    private void RunGroupNow(ref int longest)
    {
        if (_group.Count == 0)
        {
            return;
        }

        RunGroup(longest);
        foreach (var row in _ready)
        {
            First(row);
        }

        _ready.Clear();
        _group.Clear();
        longest = 0;
    }

    /// <summary>Runs one chunk of a prompt on the row's own session; true when the whole prompt has run.</summary>
    private bool RunChunk(GenerationRow row, int end)
    {
        var prompt = row.State.PromptIds;
        try
        {
            row.Session ??= new DecoderSession(Model, SessionCapacity(row), row.CancellationToken);
            row.Session.PrefillRange(prompt, row.PrefilledTokens, end);
            row.PrefilledTokens = end;
            if (end < prompt.Count)
            {
                return false;
            }

            row.Home = row.Session;
            row.Slot = 0;
            row.Session = null;
            return true;
        }
        catch (Exception ex)
        {
            Fail(row, ex);
            row.Session?.Dispose();
            row.Session = null;
            return false;
        }
    }

    /// <summary>Runs a group of fresh prompts in one left-padded run (alone when the group is one row).</summary>
    private void RunGroup(int longest)
    {
        DecoderSession? session = null;
        try
        {
            // Sized for decoding too: with no batch running, this session becomes the batch.
            var maxNew = 0;
            foreach (var row in _group)
            {
                maxNew = Math.Max(maxNew, row.State.MaxNewTokens);
                _groupPrompts.Add(row.State.PromptIds);
            }

            var capacity = _running.Count == 0 ? longest + maxNew : longest;
            if (_group.Count == 1)
            {
                var row = _group[0];
                session = new DecoderSession(Model, row.ConversationId is null ? capacity : SessionCapacity(row), row.CancellationToken);
                session.Prefill(row.State.PromptIds);
            }
            else
            {
                session = new DecoderSession(Model, capacity, CancellationToken.None, _group.Count);
                session.PrefillBatch(_groupPrompts, _pad);
            }

            for (var r = 0; r < _group.Count; r++)
            {
                _group[r].Home = session;
                _group[r].Slot = r;
                _group[r].PrefilledTokens = _group[r].State.PromptIds.Count;
                _ready.Add(_group[r]);
            }
        }
        catch (Exception ex)
        {
            session?.Dispose();
            foreach (var row in _group)
            {
                Fail(row, ex);
                _ended.Add(row);
            }
        }
        finally
        {
            _groupPrompts.Clear();
        }
    }

    /// <summary>Samples a row's first token from its prompt's scores; the row then joins the batch or ends.</summary>
    private void First(GenerationRow row)
    {
        var home = row.Home!;
        var logits = home.Logits.AsSpan(row.Slot * _vocabulary, _vocabulary);
        if (row.DistributionOnly)
        {
            row.DistributionLogits = logits.ToArray();
            row.Retire(null);
            _ended.Add(row);
            Spend(home);
            return;
        }

        GeneratedToken token;
        try
        {
            token = row.State.Advance(logits);
        }
        catch (Exception ex)
        {
            row.Retire(ex);
            _ended.Add(row);
            Spend(home);
            return;
        }

        if (token.Result is not null)
        {
            End(row, token);
            if (row.Home is { } left)
            {
                Spend(left);
            }

            return;
        }

        row.Emit(token);
        _running.Add(row);
        if (_batch is null && _running.Count == 1 && home.Rows == 1)
        {
            // The first row's own session becomes the batch: nothing is copied.
            home.Attach(CancellationToken.None);
            _batch = home;
        }
        else if (!_dirty && _batch is not null && _batch.Rows == _running.Count - 1 && _batch.TryAppendRow(new RowSource(home, row.Slot, home.RowLength(row.Slot))))
        {
            // Joined after the running rows, right-aligned: only its own positions were copied.
            row.Home = _batch;
            row.Slot = _batch.Rows - 1;
            Spend(home);
        }
        else
        {
            Spend(home);
            _dirty = true;
        }
    }

    private void Step()
    {
        if (_decoder is not null)
        {
            StepSequences(_decoder);
            return;
        }

        if (_dirty || _batch!.Length + 1 > _batch.Capacity || NeedsCompaction(_batch))
        {
            // Rows joined, left or ran out of room, or padding the longest rows left behind is dropped.
            RebuildBatch();
        }

        var batch = _batch!;
        var count = _running.Count;
        PeakRows = Math.Max(PeakRows, count);
        RecordBatchSize(count);
        if (count == 1 && _running[0].Speculation is { } speculation && Speculate(_running[0], speculation))
        {
            return;
        }
        for (var j = 0; j < count; j++)
        {
            _next[j] = _running[j].State.LastToken;
        }

        try
        {
            batch.StepBatch(_next.AsSpan(0, count));
        }
        catch (Exception ex)
        {
            foreach (var row in _running)
            {
                Fail(row, ex);
                _ended.Add(row);
            }

            _running.Clear();
            return;
        }

        var logits = batch.Logits;
        var ended = false;
        for (var j = 0; j < count; j++)
        {
            var row = _running[j];
            try
            {
                var token = row.State.Advance(logits.AsSpan(j * _vocabulary, _vocabulary));
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
                row.Retire(ex);
                _ended.Add(row);
            }

            ended |= row.Ended;
        }

        if (ended)
        {
            RemoveEnded(batch);
        }
    }

    /// <summary>
    /// Whether the batch should drop the padding every row carries: once it is a quarter of every row (at least
    /// <see cref="MinimumCompaction"/> positions), or at once for a row left alone, whose cache speculation rolls back
    /// and a conversation keeps, both of which need it unpadded.
    /// </summary>
    private static bool NeedsCompaction(DecoderSession batch)
    {
        var padding = batch.CommonPadding();
        return padding > 0 && (batch.Rows == 1 || padding >= Math.Max(MinimumCompaction, batch.Length / 4));
    }

    /// <summary>
    /// Takes the rows that ended out of the running batch. Each leaves by moving the batch's last row into its slot (one
    /// row copied, <see cref="DecoderSession.TryRemoveRow"/>); where that cannot be done, the rows keep their order and
    /// the next step rebuilds the batch.
    /// </summary>
    private void RemoveEnded(DecoderSession batch)
    {
        for (var j = _running.Count - 1; j >= 0; j--)
        {
            if (!_running[j].Ended)
            {
                continue;
            }

            var last = _running.Count - 1;
            if (!_dirty && ReferenceEquals(batch, _batch) && batch.Rows == _running.Count && batch.TryRemoveRow(j))
            {
                if (j != last)
                {
                    _running[j] = _running[last];
                    _running[j].Slot = j;
                }

                _running.RemoveAt(last);
            }
            else
            {
                _running.RemoveAt(j);
                _dirty = true;
            }
        }
    }

    /// <summary>
    /// A speculative step for a row running alone (see <see cref="Speculation.SpeculativeDecoder"/>): it may advance
    /// the row by several tokens in one run. False when nothing was drafted: the row takes a plain step.
    /// </summary>
    private bool Speculate(GenerationRow row, Speculation.SpeculativeDecoder speculation)
    {
        GeneratedToken? last;
        try
        {
            if (!speculation.TryStep(row, _batch!, _vocabulary, out last))
            {
                return false;
            }
        }
        catch (Exception ex)
        {
            Fail(row, ex);
            _ended.Add(row);
            _running.Clear();
            return true;
        }

        if (last is not null)
        {
            End(row, last);
            _running.Clear();
            _dirty = true;
        }

        return true;
    }

    /// <summary>Ends a row with its result; a conversation keeps a copy of the row's cache (or the whole batch session when it was its only row).</summary>
    private void End(GenerationRow row, GeneratedToken last)
    {
        if (_decoder is not null)
        {
            Keep(_decoder, row);
        }
        else if (row.ConversationId is { } conversation && Model.Runtime.Conversations.Capacity > 0)
        {
            try
            {
                Model.Runtime.Conversations.Put(conversation, Export(row));
            }
            catch (Exception ex) when (ex is GptException or InvalidOperationException or OutOfMemoryException)
            {
                // The result stands; the conversation's next turn runs its whole prompt.
                GC.KeepAlive(ex);
            }
        }

        row.Retire(null, last);
        _ended.Add(row);
    }

    private DecoderSession Export(GenerationRow row)
    {
        var home = row.Home!;
        var sequence = row.State.Sequence;
        if (home.Rows == 1 && (ReferenceEquals(home, _batch) ? _running.Count == 1 : true))
        {
            // Its session holds only this row: the conversation takes it as it is.
            if (ReferenceEquals(home, _batch))
            {
                _batch = null;
            }

            row.Home = null;
            _spent.Remove(home);
            home.SetProcessedIds(sequence);
            return home;
        }

        var length = home.RowLength(row.Slot);
        var kept = new DecoderSession(Model, ConversationCapacity(length + 1), CancellationToken.None);
        try
        {
            kept.Rebuild([new RowSource(home, row.Slot, length)], length);
            kept.SetProcessedIds(sequence);
            return kept;
        }
        catch
        {
            kept.Dispose();
            throw;
        }
    }

    /// <summary>Copies every running row into one batch, right-aligned to the longest, in <see cref="_running"/>'s order.</summary>
    private void RebuildBatch()
    {
        Rebuilds++;
        var count = _running.Count;
        var longest = 0;
        for (var j = 0; j < count; j++)
        {
            var row = _running[j];
            var length = row.Home!.RowLength(row.Slot);
            _sources[j] = new RowSource(row.Home, row.Slot, length);
            longest = Math.Max(longest, length);
        }

        var batch = _batch ?? new DecoderSession(Model, longest + 1, CancellationToken.None, count);
        try
        {
            batch.Rebuild(_sources.AsSpan(0, count), longest + 1);
        }
        catch (Exception ex)
        {
            foreach (var row in _running)
            {
                Fail(row, ex);
                _ended.Add(row);
            }

            _running.Clear();
            if (!ReferenceEquals(batch, _batch))
            {
                batch.Dispose();
            }

            return;
        }
        finally
        {
            Array.Clear(_sources, 0, count);
        }

        _batch = batch;
        for (var j = 0; j < count; j++)
        {
            _running[j].Home = batch;
            _running[j].Slot = j;
        }

        _dirty = false;
    }

    private static void Fail(GenerationRow row, Exception ex)
    {
        var failure = ex is OperationCanceledException && row.CancellationToken.IsCancellationRequested
            ? new GenerationCanceledException(row.State.BuildResult(FinishReason.Cancelled), row.CancellationToken)
            : ex;
        row.Retire(failure);
    }

    private void Spend(DecoderSession session)
    {
        if (!ReferenceEquals(session, _batch) && !_spent.Contains(session))
        {
            _spent.Add(session);
        }
    }

    /// <summary>Disposes prefill sessions whose rows have all been copied into the batch or ended.</summary>
    private void DisposeSpent()
    {
        foreach (var session in _spent)
        {
            if (!ReferenceEquals(session, _batch))
            {
                session.Dispose();
            }
        }

        _spent.Clear();
    }

    /// <summary>Releases the batch when no row runs (so that an idle model rents no cache), then hands ended rows their last token.</summary>
    private void Publish()
    {
        DisposeSpent();
        if (_running.Count == 0 && _batch is not null)
        {
            _batch.Dispose();
            _batch = null;
        }

        foreach (var row in _ended)
        {
            // A row that ended before its prompt finished still holds its own session.
            row.Session?.Dispose();
            row.Session = null;
            row.Speculation?.Dispose();
            if (row.Sequence is { } sequence)
            {
                row.Sequence = null;
                sequence.Dispose();
                _decoder!.ExitSequence();
            }

            row.Publish();
        }

        _ended.Clear();
    }

    /// <summary>
    /// Runs waiting prompts on their decoder sequences, first come first served, within the prefill budget: a prompt
    /// longer than what is left of it runs one chunk per iteration. Each finished prompt's first token is chosen, and
    /// its row joins the running rows.
    /// </summary>
    private void AdmitSequences(GptDecoder decoder)
    {
        var budget = _budget;
        var taken = 0;
        while (taken < _pending.Count && budget > 0 && _running.Count + _ready.Count < _maxRows)
        {
            var row = _pending[taken];
            var prompt = row.Request!.Prompt;
            try
            {
                if (row.Sequence is null)
                {
                    OpenSequence(decoder, row);
                }

                decoder.ThrowIfDisposed();
                var end = row.PrefilledTokens + Math.Min(prompt.Length - row.PrefilledTokens, budget);
                row.Sequence!.Append(prompt.AsSpan(row.PrefilledTokens, end - row.PrefilledTokens));
                budget -= end - row.PrefilledTokens;
                row.PrefilledTokens = end;
                if (end < prompt.Length)
                {
                    break;
                }

                _ready.Add(row);
            }
            catch (Exception ex)
            {
                Fail(row, ex);
                _ended.Add(row);
            }

            taken++;
        }

        _pending.RemoveRange(0, taken);
        _budget = budget;
        foreach (var row in _ready)
        {
            FirstOfSequence(decoder, row);
        }

        _ready.Clear();
    }

    /// <summary>
    /// Gives a row its sequence: its conversation's kept one, rewound to the prefix its prompt shares with it (at
    /// least one prompt token is always run, for the next token's scores), when the decoder can continue it; else a
    /// fresh one (the kept one, if any, is disposed).
    /// </summary>
    private static void OpenSequence(GptDecoder decoder, GenerationRow row)
    {
        decoder.ThrowIfDisposed();
        var request = row.Request!;
        var prompt = request.Prompt;
        DecoderSequence? sequence = null;
        if (request.ConversationId is { } conversation && decoder.Conversations.Take(conversation) is { } kept)
        {
            var shared = ConversationPrefix.Shared<int>(kept.HeldIds, prompt, kept.MaxRewindLength);

            if (shared > 0 && kept.CanContinue(request) && kept.TryRewind(shared))
            {
                sequence = kept;
                row.PrefilledTokens = shared;
                row.State.ReusedPromptTokens = shared;
            }
            else
            {
                kept.Dispose();
            }
        }

        sequence ??= decoder.Open(request);
        try
        {
            decoder.EnterSequence();
        }
        catch
        {
            sequence.Dispose();
            throw;
        }

        row.Sequence = sequence;
        sequence.Attach(request);
    }

    /// <summary>Chooses a decoder row's first token after its prompt; the row then runs or ends.</summary>
    private void FirstOfSequence(GptDecoder decoder, GenerationRow row)
    {
        GeneratedToken token;
        try
        {
            token = Next(decoder, row, first: true);
        }
        catch (Exception ex)
        {
            Fail(row, ex);
            _ended.Add(row);
            return;
        }

        if (token.Result is not null)
        {
            End(row, token);
            return;
        }

        row.Emit(token);
        _running.Add(row);
    }

    /// <summary>One step of every running decoder row, each on its own sequence; a failure ends only its row.</summary>
    private void StepSequences(GptDecoder decoder)
    {
        var count = _running.Count;
        PeakRows = Math.Max(PeakRows, count);
        RecordBatchSize(count);
        var kept = 0;
        for (var j = 0; j < count; j++)
        {
            var row = _running[j];
            try
            {
                var token = Next(decoder, row, first: false);
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
                Fail(row, ex);
                _ended.Add(row);
            }

            if (!row.Ended)
            {
                _running[kept++] = row;
            }
        }

        _running.RemoveRange(kept, count - kept);
    }

    /// <summary>A decoder row's next token: the backend's choice, or OnnxGpt's sampler over the scores after the last token (the prompt's, for the first).</summary>
    private GeneratedToken Next(GptDecoder decoder, GenerationRow row, bool first)
    {
        // A disposed decoder ends its running requests before their next run.
        decoder.ThrowIfDisposed();
        var sequence = row.Sequence!;
        if (decoder.SamplesNatively)
        {
            var id = sequence.GenerateNext();
            return row.State.Accept(id, sequence.IsDone);
        }

        if (!first)
        {
            _one[0] = row.State.LastToken;
            sequence.Append(_one);
        }

        return row.State.Advance(sequence.Logits);
    }

    /// <summary>A finished decoder row's sequence is kept for its conversation's next turn, when the decoder allows it and the request was not cancelled.</summary>
    private static void Keep(GptDecoder decoder, GenerationRow row)
    {
        if (row.Sequence is not { } sequence || row.ConversationId is not { } conversation || !sequence.CanKeep || row.CancellationToken.IsCancellationRequested)
        {
            return;
        }

        sequence.Detach();
        sequence.HeldIds = row.State.Sequence.ToArray();
        row.Sequence = null;
        decoder.ExitSequence();
        decoder.Conversations.Put(conversation, sequence);
    }

    /// <summary>A row's own session holds its prompt and generated tokens; a conversation's holds the whole context, so that later turns fit.</summary>
    private int SessionCapacity(GenerationRow row)
    {
        var needed = row.State.PromptIds.Count + row.State.MaxNewTokens;
        return row.ConversationId is null ? needed : ConversationCapacity(needed);
    }

    private int ConversationCapacity(int needed) =>
        Model.Info.ContextLength == int.MaxValue ? needed : Math.Max(needed, Model.Info.ContextLength);
}
