using OnnxGpt.Generation;

namespace OnnxGpt.Evaluation;

/// <summary>
/// Perplexity of a model on a token sequence, as transformers' perplexity guide computes it with stride = context:
/// the ids are cut into consecutive windows of the context length, each window runs from an empty cache, and every
/// token but each window's first is scored by its negative log-likelihood; perplexity = exp(mean NLL).
/// </summary>
public static class Perplexity
{
    /// <summary>Scores <paramref name="tokenIds"/> with <paramref name="model"/>.</summary>
    /// <param name="model">The model.</param>
    /// <param name="tokenIds">The text's ids (usually tokenized without special tokens).</param>
    /// <param name="contextLength">The window length; null: the model's context length.</param>
    /// <param name="cancellationToken">Stops between tokens.</param>
    /// <returns>The scored token count, mean NLL and perplexity.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The window is below 2 or above the model's context, fewer than 2 ids are given, or an id is outside the vocabulary.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public static async Task<PerplexityResult> ComputeAsync(GptModel model, IReadOnlyList<int> tokenIds, int? contextLength = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenIds);
        var context = contextLength ?? model.Info.ContextLength;
        if (context < 2 || context > model.Info.ContextLength)
        {
            throw new ArgumentOutOfRangeException(nameof(contextLength), contextLength, $"The window must hold 2 to {model.Info.ContextLength} (the model's context length) tokens.");
        }

        if (tokenIds.Count < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(tokenIds), tokenIds.Count, "Perplexity needs at least 2 tokens.");
        }

        var vocabulary = model.Info.VocabularySize;
        foreach (var id in tokenIds)
        {
            if ((uint)id >= (uint)vocabulary)
            {
                throw new ArgumentOutOfRangeException(nameof(tokenIds), id, $"Token id {id} is outside the vocabulary (0..{vocabulary - 1}).");
            }
        }

        await ThreadPoolSwitch.IfNeeded();
        double total = 0;
        var scored = 0;
        var windows = 0;
        for (var start = 0; start < tokenIds.Count - 1; start += context)
        {
            var length = Math.Min(context, tokenIds.Count - start);
            if (length < 2)
            {
                break; // A last window of one token has nothing to score.
            }

            windows++;
            using var decoder = new DecoderSession(model, length, cancellationToken);
            decoder.Prefill([tokenIds[start]]);
            for (var i = 1; i < length; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var next = tokenIds[start + i];
                total += NegativeLogLikelihood(decoder.Logits.AsSpan(0, vocabulary), next);
                scored++;
                if (i < length - 1)
                {
                    decoder.Step(next);
                }
            }
        }

        var mean = total / scored;
        return new PerplexityResult(scored, windows, mean, Math.Exp(mean));
    }

    /// <summary>-log softmax(logits)[token], computed stably in double.</summary>
    internal static double NegativeLogLikelihood(ReadOnlySpan<float> logits, int token)
    {
        var max = float.NegativeInfinity;
        foreach (var l in logits)
        {
            max = Math.Max(max, l);
        }

        double sum = 0;
        foreach (var l in logits)
        {
            sum += Math.Exp(l - max);
        }

        return Math.Log(sum) + max - logits[token];
    }
}
