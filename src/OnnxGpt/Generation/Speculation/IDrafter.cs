namespace OnnxGpt.Generation.Speculation;

/// <summary>Proposes the tokens that may come next in a sequence, for the model to verify in one run.</summary>
internal interface IDrafter : IDisposable
{
    /// <summary>
    /// Writes up to <c>draft.Length</c> tokens that may follow <paramref name="sequence"/> (prompt and output so far)
    /// into <paramref name="draft"/> and returns how many; 0 when it has nothing to propose.
    /// </summary>
    int Draft(ReadOnlySpan<int> sequence, Span<int> draft);
}
