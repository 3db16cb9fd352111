namespace OnnxGpt.Sampling;

/// <summary>
/// Keeps token sequences out of the output (Hugging Face's <c>NoBadWordsLogitsProcessor</c>): a single-token sequence
/// is always removed; a longer one removes its last token whenever the sequence so far (prompt included) ends with
/// the rest of it. Unlike transformers, a sequence made of the end-of-sequence token alone is not dropped: it bans eos.
/// </summary>
public sealed class BannedSequencesStage : ISamplingStage
{
    private readonly int[][] _sequences;

    /// <summary>Creates the stage.</summary>
    /// <param name="sequences">The banned sequences of token ids; none may be null or empty.</param>
    /// <exception cref="ArgumentNullException"><paramref name="sequences"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A sequence is null or empty, or holds a negative id.</exception>
    public BannedSequencesStage(IEnumerable<IReadOnlyList<int>> sequences)
    {
        ArgumentNullException.ThrowIfNull(sequences);
        var list = new List<int[]>();
        foreach (var sequence in sequences)
        {
            if (sequence is null || sequence.Count == 0)
            {
                throw new ArgumentOutOfRangeException(nameof(sequences), "BannedTokenSequences must not contain null or empty sequences.");
            }

            var copy = new int[sequence.Count];
            for (var i = 0; i < copy.Length; i++)
            {
                copy[i] = sequence[i] >= 0
                    ? sequence[i]
                    : throw new ArgumentOutOfRangeException(nameof(sequences), sequence[i], $"BannedTokenSequences token ids must be 0 or more, but {sequence[i]} is not.");
            }

            list.Add(copy);
        }

        _sequences = [.. list];
    }

    /// <summary>The banned sequences.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Sequences => _sequences;

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        foreach (var sequence in _sequences)
        {
            var last = sequence[^1];
            if ((uint)last >= (uint)logits.Length)
            {
                continue;
            }

            // As transformers: a sequence longer than the context so far is ignored.
            if (sequence.Length == 1
                || (sequence.Length <= tokenIds.Length && tokenIds[^(sequence.Length - 1)..].SequenceEqual(sequence.AsSpan(0, sequence.Length - 1))))
            {
                logits[last] = float.NegativeInfinity;
            }
        }
    }
}
