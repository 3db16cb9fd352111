using OnnxGpt.Models;
using OnnxGpt.Generation;

namespace OnnxGpt.Generation.Speculation;

/// <summary>
/// A row's speculative decoding, a strategy the <see cref="GenerationEngine"/> applies to a row that runs alone in
/// its batch: a drafter proposes up to k tokens, the model runs the row's last token and the drafts in one run
/// (k + 1 rows of scores), and <see cref="SpeculativeVerifier"/> keeps the accepted prefix plus one token of the
/// model's own; the cache is rolled back past the rejected drafts. k adapts between 1 and its bound (starting there
/// for prompt lookup, whose drafts are free, and at 4 for a draft model): +2 after a fully accepted draft
/// (transformers' heuristic schedule); after a rejection with a drafts kept, one less, and down to max(2a + 1, k / 2)
/// (verifying k + 1 tokens costs more than one step on a CPU, so a drafter that misses early is trusted with fewer). When even one drafted token is
/// rejected, the row takes plain steps for a while (1, 2, 4, ... up to <see cref="MaxBackoff"/>, reset by an accepted
/// draft), so that a drafter that keeps missing (text that does not repeat, a draft model that disagrees) costs little
/// more than plain decoding.
/// </summary>
internal sealed class SpeculativeDecoder : IDisposable
{
    /// <summary>Draft-model tokens per step when <see cref="GenerationOptions.DraftTokens"/> is null.</summary>
    public const int DefaultDraftTokens = 8;

    /// <summary>The most plain steps between two drafts after repeated misses.</summary>
    public const int MaxBackoff = 16;

    private readonly IDrafter _drafter;
    private readonly int _max;
    private int[] _draft = [];
    private int[] _feed = [];
    private float[] _logits = [];
    private int _skip;
    private int _backoff = 1;

    public SpeculativeDecoder(IDrafter drafter, int maxTokens, int startTokens)
    {
        _drafter = drafter;
        _max = Math.Max(1, maxTokens);
        Tokens = Math.Clamp(startTokens, 1, _max);
    }

    /// <summary>Tokens the next step drafts (adaptive, 1 to the bound).</summary>
    public int Tokens { get; private set; }

    /// <summary>The speculation a request asks for, or null: prompt lookup, else the model's draft model.</summary>
    /// <param name="model">The target model.</param>
    /// <param name="settings">The request's resolved settings.</param>
    /// <param name="capacity">The positions the row may reach (prompt and new tokens).</param>
    public static SpeculativeDecoder? Create(GptModel model, GenerationOptions settings, int capacity)
    {
        // Rolling a cache back means compacting it, which OnnxGpt does in host memory only; without a cache there is nothing to verify on.
        if (model.Layout.Convention == KvCacheConvention.None || !model.Runtime.CachePool.Memory.IsHost)
        {
            return null;
        }

        if (settings.PromptLookupTokens is { } lookup && lookup > 0)
        {
            return new SpeculativeDecoder(new PromptLookupDrafter(), lookup, lookup);
        }

        var tokens = settings.DraftTokens ?? DefaultDraftTokens;
        return model.DraftModel is { } draft && tokens > 0
            ? new SpeculativeDecoder(new DraftModelDrafter(draft, capacity), tokens, Math.Min(4, tokens))
            : null;
    }

    /// <summary>
    /// Drafts, verifies and advances <paramref name="row"/> by one or more tokens on <paramref name="session"/> (its
    /// home, holding only it). Emits every token but a final one, which it returns (its result set) for the engine
    /// to end the row with. False when nothing was drafted (the engine runs a plain step).
    /// </summary>
    public bool TryStep(GenerationRow row, DecoderSession session, int vocabulary, out GeneratedToken? last)
    {
        last = null;
        var state = row.State;
        var length = session.Length;
        var sequence = state.Sequence;
        var limit = Math.Min(Tokens, state.MaxNewTokens - state.GeneratedCount - 1);
        if (limit < 1 || length != sequence.Length - 1 || session.Rows != 1)
        {
            return false;
        }

        if (_skip > 0)
        {
            _skip--;
            return false;
        }

        if (_draft.Length < _max)
        {
            _draft = new int[_max];
            _feed = new int[_max + 1];
        }

        var drafted = _drafter.Draft(sequence, _draft.AsSpan(0, limit));
        if (drafted == 0)
        {
            return false;
        }

        if (session.Capacity < length + drafted + 1)
        {
            // A batch rebuilt for plain steps holds one free position: make room for the drafts.
            session.Rebuild([new RowSource(session, 0, length)], length + limit + 1);
        }

        if (_logits.Length < (drafted + 1) * vocabulary)
        {
            _logits = GC.AllocateUninitializedArray<float>((Math.Min(_max, limit * 2) + 1) * vocabulary);
        }

        _feed[0] = state.LastToken;
        _draft.AsSpan(0, drafted).CopyTo(_feed.AsSpan(1));
        session.Verify(_feed.AsSpan(0, drafted + 1), _logits);
        var accepted = SpeculativeVerifier.Accept(row, _draft.AsSpan(0, drafted), _logits, vocabulary, out last);
        state.DraftedTokens += drafted;
        state.AcceptedDraftTokens += accepted;
        if (accepted == 0 && Tokens == 1)
        {
            _skip = _backoff;
            _backoff = Math.Min(MaxBackoff, _backoff * 2);
        }
        else if (accepted > 0)
        {
            _backoff = 1;
        }

        // A miss early in the draft says the drafts run ahead of what the model will take: shrink to just past it.
        Tokens = accepted == drafted ? Math.Min(_max, Tokens + 2) : Math.Max(1, Math.Min(Tokens - 1, Math.Max((2 * accepted) + 1, Tokens / 2)));

        // The cache holds every fed token; keep those before the sequence's last one (not fed yet).
        var keep = row.State.Sequence.Length - 1;
        if (session.Length > keep && !session.TryRewind(keep))
        {
            throw new InvalidOperationException($"The cache could not be rolled back from {session.Length} to {keep} positions after a speculative step.");
        }

        return true;
    }

    public void Dispose() => _drafter.Dispose();
}
