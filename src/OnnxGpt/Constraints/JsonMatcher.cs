namespace OnnxGpt.Constraints;

/// <summary>
/// Runs a compiled JSON grammar over bytes: the set of matcher states (several while a union is undecided)
/// that the text so far leads to. Empty: the text cannot be extended into a match.
/// </summary>
internal sealed class JsonMatcher
{
    private readonly HashSet<JsonFrame> _seen = [];
    private List<JsonFrame> _states;
    private List<JsonFrame> _spare = [];

    public JsonMatcher(GrammarNode grammar)
    {
        _states = [new ValueFrame(DoneFrame.Instance, grammar)];
    }

    /// <summary>The current states.</summary>
    public List<JsonFrame> States => _states;

    /// <summary>Whether the text so far is a whole match (it may still go on, as a number may).</summary>
    public bool Accepting => _states.Exists(s => s.Accepting());

    /// <summary>Whether the text so far is a whole match that nothing may follow.</summary>
    public bool Complete => _states.Count > 0 && _states.TrueForAll(s => s is DoneFrame);

    /// <summary>Whether the text so far is a prefix of a match.</summary>
    public bool Alive => _states.Count > 0;

    /// <summary>Reads bytes; returns whether the text is still a prefix of a match.</summary>
    public bool Feed(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            _spare.Clear();
            foreach (var state in _states)
            {
                state.Step(b, _spare);
            }

            Dedupe(_spare, _seen);
            (_states, _spare) = (_spare, _states);
            if (_states.Count == 0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Removes repeated states (alternatives of a union that have become the same).</summary>
    public static void Dedupe(List<JsonFrame> states, HashSet<JsonFrame> seen)
    {
        if (states.Count < 2)
        {
            return;
        }

        seen.Clear();
        var kept = 0;
        for (var i = 0; i < states.Count; i++)
        {
            if (seen.Add(states[i]))
            {
                states[kept++] = states[i];
            }
        }

        states.RemoveRange(kept, states.Count - kept);
    }
}
