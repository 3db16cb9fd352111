namespace OnnxGpt.Generation.Speculation;

/// <summary>
/// Keeps the prefix of a draft that the model accepts. Position i's token comes from the row's own sampler over the
/// model's scores after the sequence and drafts 0..i-1 (with every stage, penalty and constraint, as a plain step
/// would apply them): greedy keeps draft i when it is the most likely token; sampling keeps it with probability
/// min(1, p/q) = p(draft) for the point-mass draft q, else draws from normalize(max(0, p - q)). The first token
/// that differs from its draft (or the one after a fully accepted draft) is the model's own and ends the step, so
/// every step yields at least one token and the output's distribution is that of plain decoding.
/// </summary>
internal static class SpeculativeVerifier
{
    /// <summary>
    /// Advances <paramref name="row"/> through the scores <paramref name="logits"/> (drafts + 1 rows) and returns how
    /// many drafts were kept. Tokens are emitted as they are chosen, but one that ends the row is returned in
    /// <paramref name="last"/> instead. Stops early when the row's reader cancels or goes away.
    /// </summary>
    public static int Accept(GenerationRow row, ReadOnlySpan<int> drafts, float[] logits, int vocabulary, out GeneratedToken? last)
    {
        last = null;
        var accepted = 0;
        for (var i = 0; i <= drafts.Length; i++)
        {
            var draft = i < drafts.Length ? drafts[i] : -1;
            var token = row.State.Advance(logits.AsSpan(i * vocabulary, vocabulary), draft);
            var kept = token.Id == draft;
            if (kept)
            {
                accepted++;
            }

            if (token.Result is not null)
            {
                last = token;
                break;
            }

            row.Emit(token);
            if (!kept || row.Abandoned || row.CancellationToken.IsCancellationRequested)
            {
                break;
            }
        }

        return accepted;
    }
}
