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
            var prompt = row.Request!.Prompt;
            try
            {
                if (row.Sequence is null)
                {
                    Open(row);
                }

                decoder.ThrowIfDisposed();
                var end = row.PrefilledTokens + Math.Min(prompt.Length - row.PrefilledTokens, budget);
                row.Sequence!.Append(prompt.AsSpan(row.PrefilledTokens, end - row.PrefilledTokens));
                budget -= end - row.PrefilledTokens;
                row.PrefilledTokens = end;
                if (end < prompt.Length)
                {
                    break;
                }

                if (decoder.SamplesNatively)
                {
                    row.ChosenToken = row.Sequence.GenerateNext();
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
                var sequence = row.Sequence!;
                if (decoder.SamplesNatively)
                {
                    row.ChosenToken = sequence.GenerateNext();
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
    public override Span<float> Logits(GenerationRow row) => row.Sequence!.Logits;

    /// <inheritdoc />
    public override bool TryGetChosen(GenerationRow row, out int token, out bool done)
    {
        token = row.ChosenToken;
        done = decoder.SamplesNatively && row.Sequence!.IsDone;
        return decoder.SamplesNatively;
    }

    /// <inheritdoc />
    public override void RemoveEnded(List<GenerationRow> running) => running.RemoveAll(static row => row.Ended);

    /// <summary>A finished row's sequence is kept for its conversation's next turn, when the decoder allows it and the request was not cancelled.</summary>
    public override void Keep(GenerationRow row, int running)
    {
        if (row.Sequence is not { } sequence || row.ConversationId is not { } conversation || !sequence.CanKeep || row.CancellationToken.IsCancellationRequested)
        {
            return;
        }

        sequence.Detach();
        sequence.HeldIds = row.State.Sequence.ToArray();
        row.Sequence = null;
        decoder.ExitSequence();
        decoder.Conversations.Put(conversation, sequence);
    }

    /// <inheritdoc />
    public override void Release(GenerationRow row)
    {
        if (row.Sequence is { } sequence)
        {
            row.Sequence = null;
            sequence.Dispose();
            decoder.ExitSequence();
        }
    }

    /// <summary>
    /// Gives a row its sequence: its conversation's kept one, rewound to the prefix its prompt shares with it (at
    /// least one prompt token is always run, for the next token's scores), when the decoder can continue it; else a
    /// fresh one (the kept one, if any, is disposed).
    /// </summary>
    private void Open(GenerationRow row)
    {
        decoder.ThrowIfDisposed();
        var request = row.Request!;
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

        row.Sequence = sequence;
        sequence.Attach(request);
    }
}
