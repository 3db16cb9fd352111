using OnnxGpt.Sampling;
using OnnxGpt.Generation;

namespace OnnxGpt.Generation.Speculation;

/// <summary>
/// Drafts with a smaller model (<see cref="Generation.GptOptions.DraftModelPath"/>) on its own KV cache: it catches up
/// with the sequence (its cache is cut back to the prefix it shares with it, then the rest runs), then proposes its
/// most likely tokens one run each. A greedy draft is a point mass, which the verifier's acceptance rule takes.
/// </summary>
internal sealed class DraftModelDrafter : IDrafter
{
    private readonly GptModel _draft;
    private readonly int _capacity;
    private readonly int _vocabulary;
    private readonly int _tokens;
    private int[] _ids = [];
    private DecoderSession? _session;

    /// <param name="draft">The draft model.</param>
    /// <param name="capacity">Positions the row may reach (prompt and new tokens).</param>
    public DraftModelDrafter(GptModel draft, int capacity)
    {
        _draft = draft;
        _capacity = capacity;
        _vocabulary = draft.Info.VocabularySize;
        _tokens = draft.Tokenizer?.VocabularySize is int size && size < _vocabulary ? size : _vocabulary;
    }

    /// <inheritdoc />
    public int Draft(ReadOnlySpan<int> sequence, Span<int> draft)
    {
        if (draft.IsEmpty || sequence.Length + draft.Length - 1 > _capacity)
        {
            return 0;
        }

        _session ??= new DecoderSession(_draft, _capacity, CancellationToken.None);
        var processed = _session.ProcessedIds;
        var shared = 0;
        var limit = Math.Min(processed.Length, sequence.Length - 1);
        while (shared < limit && processed[shared] == sequence[shared])
        {
            shared++;
        }

        if (!_session.TryRewind(shared))
        {
            _session.Dispose();
            _session = new DecoderSession(_draft, _capacity, CancellationToken.None);
            shared = 0;
        }

        if (_ids.Length < sequence.Length)
        {
            _ids = new int[Math.Max(sequence.Length * 2, 64)];
        }

        sequence.CopyTo(_ids);
        var ids = new ArraySegment<int>(_ids, 0, sequence.Length);
        if (shared == 0)
        {
            _session.Prefill(ids);
        }
        else
        {
            _session.PrefillRange(ids, shared, sequence.Length);
        }

        for (var i = 0; i < draft.Length; i++)
        {
            draft[i] = TokenSampler.ArgMax(_session.Logits.AsSpan(0, _tokens));
            if (i + 1 < draft.Length)
            {
                _session.Step(draft[i]);
            }
        }

        return draft.Length;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _session?.Dispose();
        _session = null;
    }
}
