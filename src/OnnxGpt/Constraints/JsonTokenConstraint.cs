namespace OnnxGpt.Constraints;

/// <summary>
/// One request's JSON constraint: walks the vocabulary trie with the matcher's states to find the tokens that keep
/// the output a prefix of a match, and keeps the output closable within the tokens left. Masks of states seen
/// before are reused (inside a long string the state repeats).
/// </summary>
internal sealed class JsonTokenConstraint : ITokenConstraint
{
    /// <summary>When fewer tokens than the bytes still needed plus this many remain, each token's cost to close is checked.</summary>
    private const int BudgetSlack = 48;

    private const int MaxCachedMasks = 512;

    private readonly JsonMatcher _matcher;
    private readonly TokenTrie _trie;
    private readonly int[] _eos;
    private readonly List<JsonFrame>[] _levels;
    private readonly HashSet<JsonFrame> _seen = [];
    private readonly Dictionary<JsonFrame, ulong[]> _masks = [];
    private readonly ulong[] _scratch;
    private int _budget;
    private int _bestCost;

    public JsonTokenConstraint(GrammarNode grammar, TokenTrie trie, IReadOnlyList<int> eosTokenIds)
    {
        _matcher = new JsonMatcher(grammar);
        _trie = trie;
        _eos = [.. eosTokenIds];
        _levels = new List<JsonFrame>[trie.MaxDepth + 1];
        for (var i = 0; i < _levels.Length; i++)
        {
            _levels[i] = [];
        }

        _scratch = new ulong[(trie.VocabularySize + 63) / 64];
    }

    /// <inheritdoc />
    /// <remarks>Without an end-of-sequence token, a whole value that could go on (a number) ends here too.</remarks>
    public bool IsComplete => _matcher.Complete || (_eos.Length == 0 && _matcher.Accepting);

    /// <summary>The matcher's states (for tests and diagnostics).</summary>
    internal JsonMatcher Matcher => _matcher;

    /// <inheritdoc />
    public void Mask(Span<float> logits, int remainingTokens)
    {
        var allowed = Allowed(remainingTokens);
        Span<float> eosScores = stackalloc float[_eos.Length];
        for (var i = 0; i < _eos.Length; i++)
        {
            eosScores[i] = (uint)_eos[i] < (uint)logits.Length ? logits[_eos[i]] : float.NegativeInfinity;
        }

        var words = Math.Min(allowed.Length, (logits.Length + 63) / 64);
        for (var w = 0; w < words; w++)
        {
            var bits = allowed[w];
            if (bits == ulong.MaxValue)
            {
                continue;
            }

            var start = w * 64;
            var end = Math.Min(start + 64, logits.Length);
            for (var i = start; i < end; i++)
            {
                if ((bits & (1UL << (i - start))) == 0)
                {
                    logits[i] = float.NegativeInfinity;
                }
            }
        }

        logits[(words * 64)..].Fill(float.NegativeInfinity);

        // The end-of-sequence tokens: only once the value is whole (and then, if nothing may follow, only them).
        var accepting = _matcher.Accepting;
        for (var i = 0; i < _eos.Length; i++)
        {
            if ((uint)_eos[i] < (uint)logits.Length)
            {
                logits[_eos[i]] = accepting ? eosScores[i] : float.NegativeInfinity;
            }
        }
    }

    /// <inheritdoc />
    public void Accept(int token)
    {
        if (Array.IndexOf(_eos, token) >= 0 || (uint)token >= (uint)_trie.VocabularySize)
        {
            return;
        }

        var bytes = _trie.Tokens[token] ?? [];
        if (!_matcher.Feed(bytes))
        {
            throw new InvalidOperationException($"Token {token} does not continue the constrained JSON output; the mask should have removed it.");
        }
    }

    /// <summary>The allowed tokens as a bit set (eos excluded: <see cref="Mask"/> handles it), for <paramref name="remainingTokens"/> tokens left.</summary>
    internal ulong[] Allowed(int remainingTokens)
    {
        var states = _matcher.States;
        var needed = int.MaxValue;
        foreach (var state in states)
        {
            needed = Math.Min(needed, state.RemainingTotal());
        }

        // Far from the budget, the mask depends on the state alone and can be reused.
        var critical = remainingTokens - 1 < needed + BudgetSlack;
        var key = !critical && states.Count == 1 ? states[0] : null;
        if (key is not null && _masks.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var bits = key is null ? _scratch : new ulong[_scratch.Length];
        Array.Clear(bits);
        if (states.Count > 0 && !_matcher.Complete)
        {
            _budget = critical ? remainingTokens - 1 : -1;
            _bestCost = int.MaxValue;
            Walk(0, states, 0, bits);
            ClearEos(bits);
            if (critical && IsEmpty(bits) && _bestCost != int.MaxValue)
            {
                // Nothing closes in time: keep the tokens that get closest.
                _budget = -2;
                Walk(0, states, 0, bits);
                ClearEos(bits);
            }
        }

        if (key is not null)
        {
            if (_masks.Count >= MaxCachedMasks)
            {
                _masks.Clear();
            }

            _masks[key] = bits;
        }

        return bits;
    }

    private void Walk(int node, List<JsonFrame> states, int depth, ulong[] bits)
    {
        var trie = _trie;
        var next = _levels[depth];
        for (var e = trie.EdgeStart[node]; e < trie.EdgeStart[node + 1]; e++)
        {
            next.Clear();
            var b = trie.EdgeByte[e];
            foreach (var state in states)
            {
                state.Step(b, next);
            }

            if (next.Count == 0)
            {
                continue;
            }

            JsonMatcher.Dedupe(next, _seen);
            var child = trie.EdgeNode[e];
            var first = trie.TokenStart[child];
            var last = trie.TokenStart[child + 1];
            if (first < last)
            {
                var cost = _budget == -1 ? 0 : Cost(next);
                _bestCost = Math.Min(_bestCost, cost);
                if (_budget == -1 || cost <= _budget || (_budget == -2 && cost == _bestCost))
                {
                    for (var t = first; t < last; t++)
                    {
                        var id = trie.TokenIds[t];
                        bits[id >> 6] |= 1UL << (id & 63);
                    }
                }
            }

            Walk(child, next, depth + 1, bits);
        }
    }

    /// <summary>End-of-sequence ids may have text in the vocabulary; <see cref="Mask"/> decides them on their own.</summary>
    private void ClearEos(ulong[] bits)
    {
        foreach (var eos in _eos)
        {
            if ((uint)eos < (uint)_trie.VocabularySize)
            {
                bits[eos >> 6] &= ~(1UL << (eos & 63));
            }
        }
    }

    private static int Cost(List<JsonFrame> states)
    {
        var least = int.MaxValue;
        foreach (var state in states)
        {
            least = Math.Min(least, state.RemainingTotal());
        }

        return least;
    }

    private static bool IsEmpty(ulong[] bits)
    {
        foreach (var word in bits)
        {
            if (word != 0)
            {
                return false;
            }
        }

        return true;
    }
}
