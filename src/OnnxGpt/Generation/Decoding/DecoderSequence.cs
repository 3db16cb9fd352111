namespace OnnxGpt.Generation.Decoding;

/// <summary>
/// For backend authors: one request's sequence in a <see cref="GptDecoder"/> (its KV cache), which OnnxGpt's generation
/// loop drives: <see cref="Append"/> runs the prompt (in chunks) and, for a decoder that leaves the choice to OnnxGpt's
/// sampler, each chosen token, after which <see cref="Logits"/> score the next one; a decoder that samples natively
/// chooses each token in <see cref="GenerateNext"/>. <see cref="TryRewind"/> rolls the cache back (a conversation's
/// shared prefix, or the tokens a speculative step did not keep). A finished request's sequence may be kept for its
/// conversation's next turn (<see cref="CanKeep"/>); the loop disposes every other one when its request ends.
/// </summary>
public abstract class DecoderSequence : IDisposable
{
    /// <summary>Positions the cache holds (tokens run so far, after any rewind).</summary>
    public abstract int Length { get; }

    /// <summary>
    /// The scores of the next token after <see cref="Append"/> (one per vocabulary entry); the sampler rewrites them in
    /// place. Only read when the decoder does not sample natively.
    /// </summary>
    public virtual Span<float> Logits => throw new NotSupportedException($"{GetType().Name} samples natively and gives no logits.");

    /// <summary>Whether the backend has ended the sequence on its own (a constraint completed, its length limit reached).</summary>
    public virtual bool IsDone => false;

    /// <summary>Whether the sequence may be kept for its conversation's next turn once its request finishes.</summary>
    public virtual bool CanKeep => true;

    /// <summary>The ids whose keys and values the cache holds, recorded by the loop when it keeps the sequence for a conversation.</summary>
    internal int[] HeldIds { get; set; } = [];

    /// <summary>The longest prefix <see cref="TryRewind"/> accepts (default: <see cref="Length"/>).</summary>
    protected internal virtual int MaxRewindLength => Length;

    /// <summary>Runs <paramref name="tokens"/> on top of the cache.</summary>
    /// <param name="tokens">The tokens (a prompt chunk, or the token chosen last).</param>
    /// <exception cref="OperationCanceledException">The request was cancelled during the run.</exception>
    public abstract void Append(ReadOnlySpan<int> tokens);

    /// <summary>For a decoder that samples natively: chooses the next token (running what it must first) and returns it.</summary>
    /// <returns>The token.</returns>
    /// <exception cref="OperationCanceledException">The request was cancelled during the run.</exception>
    public virtual int GenerateNext() => throw new NotSupportedException($"{GetType().Name} gives logits; OnnxGpt's sampler chooses the tokens.");

    /// <summary>Keeps only the first <paramref name="length"/> positions of the cache; false when the backend cannot (the caller then starts afresh).</summary>
    /// <param name="length">The positions to keep, at most <see cref="MaxRewindLength"/>.</param>
    /// <returns>Whether the cache now holds <paramref name="length"/> positions.</returns>
    public abstract bool TryRewind(int length);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Whether this kept sequence can serve <paramref name="request"/>, its conversation's next turn (same settings, same adapter...).</summary>
    /// <param name="request">The next turn.</param>
    /// <returns>True to continue it; false to dispose it and open a fresh one.</returns>
    protected internal virtual bool CanContinue(DecoderRequest request) => true;

    /// <summary>Ties the sequence to the request now using it (its cancellation token); called before its first run for each request.</summary>
    /// <param name="request">The request.</param>
    protected internal virtual void Attach(DecoderRequest request)
    {
    }

    /// <summary>Unties the sequence from its request before it is kept for the conversation's next turn.</summary>
    protected internal virtual void Detach()
    {
    }

    /// <summary>Releases the sequence's native resources.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }
}
