using System.Threading.Channels;

namespace OnnxGpt.Generation;

/// <summary>
/// One request inside the <see cref="GenerationEngine"/>: its sequence state, its cancellation, where its KV cache
/// lives (its own session while its prompt runs, then a slot of the running batch) and the tokens it has produced
/// for its reader. The engine writes; the request's stream reads.
/// </summary>
internal sealed class GenerationRow
{
    // The reader's continuation runs on the engine's thread as the token is written, before the next step: a
    // stream reads its token as soon as it exists (no thread hop, which on a busy machine costs more than a step),
    // and a reader that cancels after token n sees no token n + 1.
    private readonly Channel<GeneratedToken> _tokens = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = true });
    private volatile bool _abandoned;
    private GeneratedToken? _last;

    public GenerationRow(SequenceState state, string? conversationId, CancellationToken cancellationToken, bool distributionOnly = false)
    {
        State = state;
        ConversationId = conversationId;
        CancellationToken = cancellationToken;
        DistributionOnly = distributionOnly;
        if (!distributionOnly)
        {
            state.StartTelemetry();
        }
    }

    public SequenceState State { get; }

    /// <summary>The conversation whose cache the row continues and keeps, or null.</summary>
    public string? ConversationId { get; }

    public CancellationToken CancellationToken { get; }

    /// <summary>The row only wants the scores after its prompt (<see cref="DistributionLogits"/>), nothing sampled.</summary>
    public bool DistributionOnly { get; }

    /// <summary>The scores after the prompt, for a <see cref="DistributionOnly"/> row.</summary>
    public float[]? DistributionLogits { get; set; }

    /// <summary>What the row's <see cref="RowDecoder"/> keeps for it (where its cache is), set when the row is built for that decoder or when it first admits the row; only that decoder reads it.</summary>
    public RowDecoder.RowCache? Cache { get; set; }

    /// <summary>The row's whole prompt has run and its first token was sampled (it runs, or it ended): it leaves the queue.</summary>
    public bool Admitted { get; set; }

    /// <summary>Prompt tokens already run (the conversation's reused prefix, then each chunk).</summary>
    public int PrefilledTokens { get; set; }

    /// <summary>The row's speculative decoding (prompt lookup or a draft model), or null; the engine disposes it when the row ends.</summary>
    public Speculation.SpeculativeDecoder? Speculation { get; init; }

    /// <summary>Why the row ended without a result, rethrown by its reader.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Whether the row has ended (result, failure or cancellation): the engine drops it.</summary>
    public bool Ended { get; private set; }

    /// <summary>The reader stopped reading (the stream was disposed early): the engine drops the row.</summary>
    public bool Abandoned => _abandoned;

    public ChannelReader<GeneratedToken> Tokens => _tokens.Reader;

    public void Abandon() => _abandoned = true;

    /// <summary>
    /// Read from <see cref="Tokens"/> in place of a token: the batch shrank back to this row, and its reader drives it
    /// alone from now on (<see cref="GenerationScheduler.DriveAlone"/>). Never yielded to the caller.
    /// </summary>
    public static GeneratedToken HandBack { get; } = new(-1, string.Empty, -1);

    /// <summary>Hands a token to the reader.</summary>
    public void Emit(GeneratedToken token) => _tokens.Writer.TryWrite(token);

    /// <summary>
    /// Ends the row: the engine stops running it at once, and <see cref="Publish"/> later hands its reader the last
    /// token and <paramref name="failure"/> (what the reader throws; null: it ended with its result), once the
    /// engine has released what the row held.
    /// </summary>
    public void Retire(Exception? failure, GeneratedToken? last = null)
    {
        if (Ended)
        {
            return;
        }

        Ended = true;
        Failure = failure;
        _last = last;

        // Every request ends here: one without a result yet (abandoned, failed) ends its telemetry too.
        State.Exited(CancellationToken);
    }

    /// <summary>Hands the reader what <see cref="Retire"/> kept and closes the stream.</summary>
    public void Publish()
    {
        if (_last is { } last)
        {
            _tokens.Writer.TryWrite(last);
            _last = null;
        }

        _tokens.Writer.TryComplete();
    }
}
