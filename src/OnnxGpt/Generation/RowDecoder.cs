namespace OnnxGpt.Generation;

/// <summary>
/// What the one generation loop (<see cref="GenerationEngine"/>) needs from a backend: run waiting prompts (handing
/// each finished one back to the loop for its first token), run one step of the running rows, give each row's scores
/// (or the token the backend chose), take ended rows out, keep a finished row's cache for its conversation and
/// release what a row held. Sampling, stops, finish, cancellation, failure and publishing stay in the loop, so they
/// are the same for every backend. Two implementations: <see cref="SessionRowDecoder"/> (the model's own ONNX
/// Runtime sessions, every running row in one run per step) and <see cref="SequenceRowDecoder"/> (a
/// <see cref="Decoding.GptDecoder"/>'s sequences, one per row).
/// </summary>
internal abstract class RowDecoder
{
    /// <summary>How many times the running rows' caches were copied whole (for tests; 0 where nothing is copied).</summary>
    public virtual int Rebuilds => 0;

    /// <summary>
    /// Runs waiting prompts in <paramref name="pending"/>'s order within <paramref name="budget"/> prompt tokens and
    /// <paramref name="free"/> rows; calls <see cref="GenerationEngine.First"/> for each row as soon as its whole
    /// prompt has run, and <see cref="GenerationEngine.Fail"/> for one whose run failed. The loop drops admitted and
    /// ended rows from <paramref name="pending"/> afterwards.
    /// </summary>
    /// <returns>The budget left.</returns>
    public abstract int Admit(List<GenerationRow> pending, int budget, int free, GenerationEngine engine);

    /// <summary>After admission: settles the running rows' caches (rows that joined or left).</summary>
    public virtual void Admitted(List<GenerationRow> running, GenerationEngine engine)
    {
    }

    /// <summary>A row whose first token was emitted joins the running rows (it is the last of <paramref name="running"/>).</summary>
    public virtual void Join(GenerationRow row, int running)
    {
    }

    /// <summary>A row ended at its first token, or failed there: what its prompt ran on is no longer needed.</summary>
    public virtual void Drop(GenerationRow row)
    {
    }

    /// <summary>Rows left the running rows without <see cref="RemoveEnded"/> (cancelled, abandoned): their caches must be settled before the next step.</summary>
    public virtual void Invalidate()
    {
    }

    /// <summary>
    /// Runs one step of every running row (its last token), failing through <see cref="GenerationEngine.Fail"/> the
    /// rows whose run failed. True when the backend advanced the rows itself (a speculative step) and there is
    /// nothing to sample.
    /// </summary>
    public abstract bool Step(List<GenerationRow> running, GenerationEngine engine);

    /// <summary>The scores of <paramref name="row"/>'s next token, after its prompt or its last step (rewritten in place by the sampler).</summary>
    public abstract Span<float> Logits(GenerationRow row);

    /// <summary>The token the backend chose for <paramref name="row"/> itself, if it samples natively.</summary>
    /// <param name="row">The row.</param>
    /// <param name="token">The token.</param>
    /// <param name="done">Whether the backend ended the sequence with it.</param>
    /// <returns>False: the loop samples from <see cref="Logits"/>.</returns>
    public virtual bool TryGetChosen(GenerationRow row, out int token, out bool done)
    {
        token = 0;
        done = false;
        return false;
    }

    /// <summary>Takes the ended rows out of <paramref name="running"/> (which it may reorder) and out of the running caches.</summary>
    public abstract void RemoveEnded(List<GenerationRow> running);

    /// <summary>A row finished with its result: its conversation, if any, keeps its cache for the next turn.</summary>
    public abstract void Keep(GenerationRow row, int running);

    /// <summary>Releases what an ended row still holds, before its reader is handed its last token.</summary>
    public abstract void Release(GenerationRow row);

    /// <summary>End of an iteration: releases caches no row needs (all of them when <paramref name="idle"/>).</summary>
    public virtual void Settle(bool idle)
    {
    }

    /// <summary>What a decoder keeps in a row (<see cref="GenerationRow.Cache"/>): each implementation derives its own, so the row carries no backend's fields.</summary>
    internal abstract class RowCache
    {
    }
}
