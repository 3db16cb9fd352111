using OnnxGpt.Models;

namespace OnnxGpt.Generation;

/// <summary>
/// Rows on the model's own ONNX Runtime sessions: every running row is a slot of one batch
/// <see cref="DecoderSession"/>, right-aligned, and one session run per step serves them all. Simultaneous short
/// prompts run together in left-padded groups, a longer one alone in bounded chunks. A row that ends leaves at once:
/// the batch's last row takes its slot (or, for a combined cache, the batch is rebuilt without it), and the padding
/// the longest rows leave behind is dropped once it is a quarter of every row. A row running alone may take
/// speculative steps.
/// </summary>
internal sealed class SessionRowDecoder : RowDecoder
{
    /// <summary>Padding every row carries before the batch is compacted, at least (and at least a quarter of its length).</summary>
    private const int MinimumCompaction = 16;

    private readonly GptModel _model;
    private readonly int _groupTokens;
    private readonly int _vocabulary;
    private readonly int _pad;
    private readonly List<GenerationRow> _group = [];
    private readonly List<GenerationRow> _ready = [];
    private readonly List<DecoderSession> _spent = [];
    private readonly List<IReadOnlyList<int>> _groupPrompts = [];
    private readonly RowSource[] _sources;
    private readonly int[] _next;
    private DecoderSession? _batch;
    private bool _dirty;
    private int _rebuilds;

    public SessionRowDecoder(GptModel model, int maxRows, int prefillGroupTokens)
    {
        _model = model;
        _groupTokens = Math.Max(1, prefillGroupTokens);
        _vocabulary = model.Info.VocabularySize;
        _pad = model.Info.PadTokenId ?? (model.Info.EosTokenIds.Count > 0 ? model.Info.EosTokenIds[0] : 0);
        _sources = new RowSource[maxRows];
        _next = new int[maxRows];
    }

    /// <inheritdoc />
    public override int Rebuilds => _rebuilds;

    /// <summary>
    /// Runs waiting prompts within the prefill budget's tokens and the free rows, and hands each one to the loop for
    /// its first token as soon as its own run ends (not after every waiting prompt ran), so that the first of several
    /// simultaneous requests gets its first token after its own prefill. Short prompts (at most one prefill group's
    /// tokens) go first, first come first served: fresh ones run together in left-padded groups of at most the group's
    /// padded tokens, a kept conversation's new tokens alone on its session. Then the oldest longer prompt runs one
    /// chunk with what is left of the budget (at least one group's tokens are kept for it, so short prompts never
    /// starve it).
    /// </summary>
    public override int Admit(List<GenerationRow> pending, int budget, int free, GenerationEngine engine)
    {
        var group = Math.Min(_groupTokens, engine.PrefillBudget);
        var longWaiting = false;
        foreach (var row in pending)
        {
            if (row.Cache is null)
            {
                row.Cache = new Place();
                Resume(row);
            }

            longWaiting |= Remaining(row) > group;
        }

        // Short prompts first, leaving at least one group's tokens to a longer prompt that waits.
        var shortBudget = longWaiting ? budget - group : budget;
        var longest = 0;
        for (var i = 0; i < pending.Count && free > 0 && shortBudget > 0; i++)
        {
            var row = pending[i];
            var remaining = Remaining(row);
            if (remaining > group)
            {
                continue;
            }

            if (Of(row).Session is not null)
            {
                if (remaining > shortBudget)
                {
                    break;
                }

                RunGroupNow(ref longest, engine);
                shortBudget -= remaining;
                budget -= remaining;
                free--;
                if (RunChunk(row, row.State.PromptIds.Count, engine))
                {
                    engine.First(row);
                }

                continue;
            }

            var width = Math.Max(longest, remaining);
            if ((_group.Count + 1) * width > group)
            {
                RunGroupNow(ref longest, engine);
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
                RunGroupNow(ref longest, engine);
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
            free--;
        }

        RunGroupNow(ref longest, engine);

        // Then one chunk of the oldest longer prompt.
        if (budget > 0 && free > 0)
        {
            foreach (var row in pending)
            {
                if (row.Ended || row.Admitted || Remaining(row) <= group)
                {
                    continue;
                }

                var end = row.PrefilledTokens + Math.Min(Remaining(row), budget);
                budget -= end - row.PrefilledTokens;
                if (RunChunk(row, end, engine))
                {
                    engine.First(row);
                }

                break;
            }
        }

        return budget;
    }

    /// <inheritdoc />
    public override void Admitted(List<GenerationRow> running, GenerationEngine engine)
    {
        if (_dirty && running.Count > 0)
        {
            Rebuild(running, engine);
        }

        DisposeSpent();
    }

    /// <inheritdoc />
    public override void Join(GenerationRow row, int running)
    {
        var place = Of(row);
        var home = place.Home!;
        if (_batch is null && running == 1 && home.Rows == 1)
        {
            // The first row's own session becomes the batch: nothing is copied.
            home.Attach(CancellationToken.None);
            _batch = home;
        }
        else if (!_dirty && _batch is not null && _batch.Rows == running - 1 && _batch.TryAppendRow(new RowSource(home, place.Slot, home.RowLength(place.Slot))))
        {
            // Joined after the running rows, right-aligned: only its own positions were copied.
            place.Home = _batch;
            place.Slot = _batch.Rows - 1;
            Spend(home);
        }
        else
        {
            Spend(home);
            _dirty = true;
        }
    }

    /// <inheritdoc />
    public override void Drop(GenerationRow row)
    {
        if (row.Cache is Place { Home: { } home })
        {
            Spend(home);
        }
    }

    /// <inheritdoc />
    public override void Invalidate() => _dirty = true;

    /// <inheritdoc />
    public override bool Step(List<GenerationRow> running, GenerationEngine engine)
    {
        if (_dirty || _batch!.Length + 1 > _batch.Capacity || NeedsCompaction(_batch))
        {
            // Rows joined, left or ran out of room, or padding the longest rows left behind is dropped.
            if (!Rebuild(running, engine))
            {
                return true;
            }
        }

        var batch = _batch!;
        var count = running.Count;
        if (count == 1 && running[0].Speculation is { } speculation && Speculate(running[0], speculation, engine))
        {
            return true;
        }

        for (var j = 0; j < count; j++)
        {
            _next[j] = running[j].State.LastToken;
        }

        try
        {
            batch.StepBatch(_next.AsSpan(0, count));
        }
        catch (Exception ex)
        {
            foreach (var row in running)
            {
                engine.Fail(row, ex);
            }

            return true;
        }

        return false;
    }

    /// <inheritdoc />
    public override Span<float> Logits(GenerationRow row)
    {
        var place = Of(row);
        return place.Home!.Logits.AsSpan(place.Slot * _vocabulary, _vocabulary);
    }

    /// <summary>
    /// Takes the rows that ended out of the running batch. Each leaves by moving the batch's last row into its slot (one
    /// row copied, <see cref="DecoderSession.TryRemoveRow"/>); where that cannot be done, the rows keep their order and
    /// the next step rebuilds the batch.
    /// </summary>
    public override void RemoveEnded(List<GenerationRow> running)
    {
        if (running.TrueForAll(static row => row.Ended))
        {
            // Nothing is left to copy: the batch is released when the iteration ends, or rebuilt for rows that join.
            running.Clear();
            _dirty = true;
            return;
        }

        for (var j = running.Count - 1; j >= 0; j--)
        {
            if (!running[j].Ended)
            {
                continue;
            }

            var last = running.Count - 1;
            if (!_dirty && _batch is { } batch && batch.Rows == running.Count && batch.TryRemoveRow(j))
            {
                if (j != last)
                {
                    running[j] = running[last];
                    Of(running[j]).Slot = j;
                }

                running.RemoveAt(last);
            }
            else
            {
                running.RemoveAt(j);
                _dirty = true;
            }
        }
    }

    /// <summary>A conversation keeps a copy of the row's cache (or the whole batch session when it was its only row).</summary>
    public override void Keep(GenerationRow row, int running)
    {
        if (row.ConversationId is not { } conversation || _model.Runtime.Conversations.Capacity == 0)
        {
            return;
        }

        try
        {
            _model.Runtime.Conversations.Put(conversation, Export(row, running));
        }
        catch (Exception ex) when (ex is GptException or InvalidOperationException or OutOfMemoryException)
        {
            // The result stands; the conversation's next turn runs its whole prompt.
            Log.ConversationNotKept(_model.Runtime.Logger, _model.Info.ModelPath, conversation, ex.Message);
        }
    }

    /// <inheritdoc />
    public override void Release(GenerationRow row)
    {
        // A row that ended before its prompt finished still holds its own session.
        if (row.Cache is Place place)
        {
            place.Session?.Dispose();
            place.Session = null;
        }
    }

    /// <summary>Releases the batch when no row runs (so that an idle model rents no cache) and the prefill sessions no row needs.</summary>
    public override void Settle(bool idle)
    {
        DisposeSpent();
        if (idle && _batch is not null)
        {
            _batch.Dispose();
            _batch = null;
        }
    }

    /// <summary>
    /// Continues a kept conversation when the prompt starts with tokens its cache holds: the cache is cut back to the
    /// shared prefix (at least one prompt token is always run, for the next token's scores), and the row runs only
    /// the rest of its prompt on it, alone. Otherwise the kept cache is dropped and the whole prompt runs.
    /// </summary>
    private void Resume(GenerationRow row)
    {
        if (row.ConversationId is not { } conversation || _model.Runtime.Conversations.Take(conversation) is not { } kept)
        {
            return;
        }

        var promptIds = row.State.PromptIds;
        var shared = ConversationPrefix.Shared(kept.ProcessedIds, promptIds, kept.ProcessedIds.Length);
        if (shared > 0 && kept.Capacity >= promptIds.Count + row.State.MaxNewTokens && kept.TryRewind(shared))
        {
            kept.Attach(row.CancellationToken);
            row.State.ReusedPromptTokens = shared;
            Of(row).Session = kept;
            row.PrefilledTokens = shared;
            return;
        }

        kept.Dispose();
    }

    private static int Remaining(GenerationRow row) => row.State.PromptIds.Count - row.PrefilledTokens;

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

    /// <summary>Runs the group gathered so far, if any, and hands its rows to the loop for their first tokens at once.</summary>
    private void RunGroupNow(ref int longest, GenerationEngine engine)
    {
        if (_group.Count == 0)
        {
            return;
        }

        RunGroup(longest, engine);
        foreach (var row in _ready)
        {
            engine.First(row);
        }

        _ready.Clear();
        _group.Clear();
        longest = 0;
    }

    /// <summary>Runs one chunk of a prompt on the row's own session; true when the whole prompt has run.</summary>
    private bool RunChunk(GenerationRow row, int end, GenerationEngine engine)
    {
        var prompt = row.State.PromptIds;
        var place = Of(row);
        try
        {
            place.Session ??= new DecoderSession(_model, SessionCapacity(row), row.CancellationToken);
            place.Session.PrefillRange(prompt, row.PrefilledTokens, end);
            row.PrefilledTokens = end;
            if (end < prompt.Count)
            {
                return false;
            }

            place.Home = place.Session;
            place.Slot = 0;
            place.Session = null;
            return true;
        }
        catch (Exception ex)
        {
            engine.Fail(row, ex);
            place.Session?.Dispose();
            place.Session = null;
            return false;
        }
    }

    /// <summary>Runs a group of fresh prompts in one left-padded run (alone when the group is one row).</summary>
    private void RunGroup(int longest, GenerationEngine engine)
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

            var capacity = engine.Running == 0 ? longest + maxNew : longest;
            if (_group.Count == 1)
            {
                var row = _group[0];
                session = new DecoderSession(_model, row.ConversationId is null ? capacity : SessionCapacity(row), row.CancellationToken);
                session.Prefill(row.State.PromptIds);
            }
            else
            {
                session = new DecoderSession(_model, capacity, CancellationToken.None, _group.Count);
                session.PrefillBatch(_groupPrompts, _pad);
            }

            for (var r = 0; r < _group.Count; r++)
            {
                var place = Of(_group[r]);
                place.Home = session;
                place.Slot = r;
                _group[r].PrefilledTokens = _group[r].State.PromptIds.Count;
                _ready.Add(_group[r]);
            }
        }
        catch (Exception ex)
        {
            session?.Dispose();
            foreach (var row in _group)
            {
                engine.Fail(row, ex);
            }
        }
        finally
        {
            _groupPrompts.Clear();
        }
    }

    /// <summary>
    /// A speculative step for a row running alone (see <see cref="Speculation.SpeculativeDecoder"/>): it may advance
    /// the row by several tokens in one run. False when nothing was drafted: the row takes a plain step.
    /// </summary>
    private bool Speculate(GenerationRow row, Speculation.SpeculativeDecoder speculation, GenerationEngine engine)
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
            engine.Fail(row, ex);
            return true;
        }

        if (last is not null)
        {
            engine.End(row, last);
        }

        return true;
    }

    private DecoderSession Export(GenerationRow row, int running)
    {
        var place = Of(row);
        var home = place.Home!;
        var sequence = row.State.Sequence;
        if (home.Rows == 1 && (!ReferenceEquals(home, _batch) || running == 1))
        {
            // Its session holds only this row: the conversation takes it as it is.
            if (ReferenceEquals(home, _batch))
            {
                _batch = null;
            }

            place.Home = null;
            _spent.Remove(home);
            home.SetProcessedIds(sequence);
            return home;
        }

        var length = home.RowLength(place.Slot);
        var kept = new DecoderSession(_model, ConversationCapacity(length + 1), CancellationToken.None);
        try
        {
            kept.Rebuild([new RowSource(home, place.Slot, length)], length);
            kept.SetProcessedIds(sequence);
            return kept;
        }
        catch
        {
            kept.Dispose();
            throw;
        }
    }

    /// <summary>Copies every running row into one batch, right-aligned to the longest, in <paramref name="running"/>'s order; false (every row failed) when it could not.</summary>
    private bool Rebuild(List<GenerationRow> running, GenerationEngine engine)
    {
        _rebuilds++;
        var count = running.Count;
        var longest = 0;
        for (var j = 0; j < count; j++)
        {
            var place = Of(running[j]);
            var length = place.Home!.RowLength(place.Slot);
            _sources[j] = new RowSource(place.Home, place.Slot, length);
            longest = Math.Max(longest, length);
        }

        var batch = _batch ?? new DecoderSession(_model, longest + 1, CancellationToken.None, count);
        try
        {
            batch.Rebuild(_sources.AsSpan(0, count), longest + 1);
        }
        catch (Exception ex)
        {
            foreach (var row in running)
            {
                engine.Fail(row, ex);
            }

            if (!ReferenceEquals(batch, _batch))
            {
                batch.Dispose();
            }

            return false;
        }
        finally
        {
            Array.Clear(_sources, 0, count);
        }

        _batch = batch;
        for (var j = 0; j < count; j++)
        {
            var place = Of(running[j]);
            place.Home = batch;
            place.Slot = j;
        }

        _dirty = false;
        return true;
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

    /// <summary>A row's own session holds its prompt and generated tokens; a conversation's holds the whole context, so that later turns fit.</summary>
    private int SessionCapacity(GenerationRow row)
    {
        var needed = row.State.PromptIds.Count + row.State.MaxNewTokens;
        return row.ConversationId is null ? needed : ConversationCapacity(needed);
    }

    private int ConversationCapacity(int needed) =>
        _model.Info.ContextLength == int.MaxValue ? needed : Math.Max(needed, _model.Info.ContextLength);

    /// <summary>The session holding <paramref name="row"/>'s cache and its slot there (for tests).</summary>
    internal static (DecoderSession? Home, int Slot) Where(GenerationRow row) => row.Cache is Place place ? (place.Home, place.Slot) : (null, 0);

    private static Place Of(GenerationRow row) => (Place)row.Cache!;

    /// <summary>Where a row's KV cache is: its own session while its prompt runs (a kept conversation's, or a fresh one for a chunked prompt), then a slot of its prefill group's or the running batch's session.</summary>
    private sealed class Place : RowCache
    {
        /// <summary>The row's own session for its prompt, before it joins the batch.</summary>
        public DecoderSession? Session { get; set; }

        /// <summary>The session holding the row's cache now (its own, its prefill group's or the running batch).</summary>
        public DecoderSession? Home { get; set; }

        /// <summary>The row's index in <see cref="Home"/>.</summary>
        public int Slot { get; set; }
    }
}
