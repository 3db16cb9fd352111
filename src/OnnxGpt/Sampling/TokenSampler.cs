using OnnxGpt.Generation;

namespace OnnxGpt.Sampling;

/// <summary>
/// Picks the next token: runs the stages over the scores in Hugging Face's order (penalties, then temperature,
/// top-k, top-p, min-p), then takes the most likely token (greedy) or draws one from a seeded generator.
/// One instance serves one request.
/// </summary>
internal sealed class TokenSampler
{
    private readonly ISamplingStage[] _stages;
    private readonly Random? _random;

    public TokenSampler(ISamplingStage[] stages, Random? random)
    {
        _stages = stages;
        _random = random;
    }

    /// <summary>Whether the choice is random (false: greedy).</summary>
    public bool IsSampling => _random is not null;

    /// <summary>Builds the sampler for fully resolved options.</summary>
    public static TokenSampler Create(GenerationOptions options)
    {
        var stages = new List<ISamplingStage>();
        if (options.RepetitionPenalty is { } penalty && penalty != 1f)
        {
            stages.Add(new RepetitionPenaltyStage(penalty));
        }

        var sample = options.DoSample == true && options.Temperature != 0f;
        if (!sample)
        {
            // Hugging Face applies no warpers when it does not sample: they cannot change the most likely token.
            return new TokenSampler([.. stages], null);
        }

        if (options.Temperature is { } t && t != 1f)
        {
            stages.Add(new TemperatureStage(t));
        }

        if (options.TopK is > 0)
        {
            stages.Add(new TopKStage(options.TopK.Value));
        }

        if (options.TopP is { } p && p < 1f)
        {
            stages.Add(new TopPStage(p));
        }

        if (options.MinP is { } m && m > 0f)
        {
            stages.Add(new MinPStage(m));
        }

        return new TokenSampler([.. stages], options.Seed is { } seed ? new Random(seed) : new Random());
    }

    /// <summary>Chooses the next token, rewriting <paramref name="logits"/> in place.</summary>
    public int Next(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        foreach (var stage in _stages)
        {
            stage.Apply(logits, tokenIds);
        }

        return _random is null ? ArgMax(logits) : Draw(logits, _random);
    }

    /// <summary>The first index of the highest score, as torch.argmax.</summary>
    internal static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        var max = float.NegativeInfinity;
        for (var i = 0; i < logits.Length; i++)
        {
            if (logits[i] > max)
            {
                max = logits[i];
                best = i;
            }
        }

        return best;
    }

    private static int Draw(ReadOnlySpan<float> logits, Random random)
    {
        var max = Selection.Max(logits);
        if (float.IsNegativeInfinity(max) || float.IsNaN(max))
        {
            throw new GptException("Every token was removed by the sampling stages, or the model produced NaN scores; nothing can be sampled.");
        }

        var sum = 0.0;
        foreach (var l in logits)
        {
            sum += float.IsNegativeInfinity(l) ? 0 : Math.Exp(l - max);
        }

        var target = random.NextDouble() * sum;
        var last = 0;
        var cumulative = 0.0;
        for (var i = 0; i < logits.Length; i++)
        {
            if (float.IsNegativeInfinity(logits[i]))
            {
                continue;
            }

            last = i;
            cumulative += Math.Exp(logits[i] - max);
            if (cumulative > target)
            {
                return i;
            }
        }

        return last;
    }
}
