namespace OnnxGpt.Generation.Speculation;

/// <summary>
/// Prompt lookup (transformers' <c>prompt_lookup_num_tokens</c>): finds the most recent earlier occurrence of the
/// sequence's last <see cref="MaxNGram"/> tokens (else fewer, down to one) in the prompt and output so far, and
/// drafts the tokens that followed it. Costs no model run; it pays off when the output repeats its input
/// (copying, quoting, editing, summaries that reuse phrases).
/// </summary>
internal sealed class PromptLookupDrafter : IDrafter
{
    /// <summary>The longest n-gram matched (then shorter ones).</summary>
    public const int MaxNGram = 3;

    /// <inheritdoc />
    public int Draft(ReadOnlySpan<int> sequence, Span<int> draft)
    {
        for (var n = Math.Min(MaxNGram, sequence.Length - 1); n >= 1; n--)
        {
            var tail = sequence[^n..];

            // The most recent earlier occurrence that has at least one token after it.
            for (var start = sequence.Length - n - 1; start >= 0; start--)
            {
                if (!sequence.Slice(start, n).SequenceEqual(tail))
                {
                    continue;
                }

                var from = start + n;
                var count = Math.Min(draft.Length, sequence.Length - from);
                sequence.Slice(from, count).CopyTo(draft);
                return count;
            }
        }

        return 0;
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}
