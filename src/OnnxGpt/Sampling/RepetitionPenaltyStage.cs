namespace OnnxGpt.Sampling;

/// <summary>
/// Makes tokens already in the sequence less likely (Hugging Face's <c>RepetitionPenaltyLogitsProcessor</c>):
/// a positive score is divided by the penalty and a negative one multiplied by it, once per distinct token.
/// </summary>
public sealed class RepetitionPenaltyStage : ISamplingStage, IRequestScopedStage
{
    private bool[] _seen = [];

    /// <summary>Creates the stage.</summary>
    /// <param name="penalty">Above 1 discourages repetition, below 1 encourages it, 1 does nothing.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="penalty"/> is not a finite number above 0.</exception>
    public RepetitionPenaltyStage(float penalty)
    {
        if (!(penalty > 0) || float.IsInfinity(penalty))
        {
            throw new ArgumentOutOfRangeException(nameof(penalty), penalty, "RepetitionPenalty must be a finite number above 0.");
        }

        Penalty = penalty;
    }

    /// <summary>The penalty.</summary>
    public float Penalty { get; }

    /// <inheritdoc />
    ISamplingStage IRequestScopedStage.ForRequest() => new RepetitionPenaltyStage(Penalty);

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        if (_seen.Length != logits.Length)
        {
            _seen = new bool[logits.Length];
        }

        var seen = _seen.AsSpan();
        seen.Clear();
        foreach (var id in tokenIds)
        {
            if ((uint)id >= (uint)logits.Length || seen[id])
            {
                continue;
            }

            seen[id] = true;
            var score = logits[id];
            logits[id] = score < 0 ? score * Penalty : score / Penalty;
        }
    }
}
