using OnnxGpt.Generation.Decoding;

namespace OnnxGpt.Generation;

/// <summary>
/// Rows on a <see cref="GptDecoder"/> (another backend): each row runs its own <see cref="DecoderSequence"/>, its
/// prompt first come first served in chunks of what is left of the prefill budget, then one run per step. A kept
/// conversation's sequence is continued from the prefix its next prompt shares with it.
/// </summary>
internal sealed class SequenceRowDecoder(GptDecoder decoder) : RowDecoder
{
    private readonly int[] _one = new int[1];

    /// <inheritdoc />
    public override int Admit(List<GenerationRow> pending, int budget, int free, GenerationEngine engine)
    {
        for (var i = 0; i < pending.Count && budget > 0 && free > 0; i++)
        {
            var row = pending[i];
            var place = Of(row);
            var prompt = place.Request.Prompt;
            try
            {
                if (place.Sequence is null)
                {
                    Open(row, place);
                }

                decoder.ThrowIfDisposed();
                var end = row.PrefilledTokens + Math.Min(prompt.Length - row.PrefilledTokens, budget);
                place.Sequence!.Append(prompt.AsSpan(row.PrefilledTokens, end - row.PrefilledTokens));
                budget -= end - row.PrefilledTokens;
                row.PrefilledTokens = end;
                if (end < prompt.Length)
                {
                    break;
                }

                if (decoder.SamplesNatively)
                {
                    place.ChosenToken = place.Sequence.GenerateNext();
                }
            }
            catch (Exception ex)
            {
                engine.Fail(row, ex);
                continue;
            }

            free--;
            engine.First(row);
        }

        return budget;
    }

    /// <inheritdoc />
    public override bool Step(List<GenerationRow> running, GenerationEngine engine)
    {
        foreach (var row in running)
        {
            try
            {
                // A disposed decoder ends its running requests before their next run.
                decoder.ThrowIfDisposed();
                var place = Of(row);
                var sequence = place.Sequence!;
                if (decoder.SamplesNatively)
                {
                    place.ChosenToken = sequence.GenerateNext();
                }
                else
                {
                    _one[0] = row.State.LastToken;
                    sequence.Append(_one);
                }
            }
            catch (Exception ex)
            {
                engine.Fail(row, ex);
            }
        }

        return false;
    }

    /// <inheritdoc />
    public override Span<float> Logits(GenerationRow row) => Of(row).Sequence!.Logits;

    /// <inheritdoc />
    public override bool TryGetChosen(GenerationRow row, out int token, out bool done)
    {
        var place = Of(row);
        token = place.ChosenToken;
        done = decoder.SamplesNatively && place.Sequence!.IsDone;
        return decoder.SamplesNatively;
    }

    /// <inheritdoc />
    public override void RemoveEnded(List<GenerationRow> running) => running.RemoveAll(static row => row.Ended);

    /// <summary>A finished row's sequence is kept for its conversation's next turn, when the decoder allows it and the request was not cancelled.</summary>
    public override void Keep(GenerationRow row, int running)
    {
        var place = Of(row);
        if (place.Sequence is not { } sequence || row.ConversationId is not { } conversation || !sequence.CanKeep || row.CancellationToken.IsCancellationRequested)
        {
            return;
        }

        sequence.Detach();
        sequence.HeldIds = row.State.Sequence.ToArray();
        place.Sequence = null;
        decoder.ExitSequence();
        decoder.Conversations.Put(conversation, sequence);
    }

    /// <inheritdoc />
    public override void Release(GenerationRow row)
    {
        var place = Of(row);
        if (place.Sequence is { } sequence)
        {
            place.Sequence = null;
            sequence.Dispose();
            decoder.ExitSequence();
        }
    }

    /// <summary>
    /// Gives a row its sequence: its conversation's kept one, rewound to the prefix its prompt shares with it (at
    /// least one prompt token is always run, for the next token's scores), when the decoder can continue it; else a
    /// fresh one (the kept one, if any, is disposed).
    /// </summary>
    private void Open(GenerationRow row, Place place)
    {
        decoder.ThrowIfDisposed();
        var request = place.Request;
        var prompt = request.Prompt;
        DecoderSequence? sequence = null;
        if (request.ConversationId is { } conversation && decoder.Conversations.Take(conversation) is { } kept)
        {
            var shared = ConversationPrefix.Shared<int>(kept.HeldIds, prompt, kept.MaxRewindLength);
            if (shared > 0 && kept.CanContinue(request) && kept.TryRewind(shared))
            {
                sequence = kept;
                row.PrefilledTokens = shared;
                row.State.ReusedPromptTokens = shared;
            }
            else
            {
                kept.Dispose();
            }
        }

        sequence ??= decoder.Open(request);
        try
        {
            decoder.EnterSequence();
        }
        catch
        {
            sequence.Dispose();
            throw;
        }

        place.Sequence = sequence;
        sequence.Attach(request);
    }

    /// <summary>What a row of this decoder starts with: <paramref name="request"/>, the request as the <see cref="GptDecoder"/> sees it.</summary>
    public static RowCache For(DecoderRequest request) => new Place(request);

    private static Place Of(GenerationRow row) => (Place)row.Cache!;

    /// <summary>A row's request as the decoder sees it, and its sequence (its cache) once the row is admitted.</summary>
    private sealed class Place(DecoderRequest request) : RowCache
    {
        public DecoderRequest Request { get; } = request;

        /// <summary>The row's sequence, opened when the row is admitted.</summary>
        public DecoderSequence? Sequence { get; set; }

        /// <summary>For a decoder that samples natively: the token it chose at its last run.</summary>
        public int ChosenToken { get; set; }
    }
}
