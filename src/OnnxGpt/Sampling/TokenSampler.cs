namespace OnnxGpt.Sampling;

/// <summary>
/// Picks the next token: runs the stages over the scores in Hugging Face's order (the processors: repetition penalty,
/// frequency/presence penalties, n-gram blocking, banned sequences, minimum new tokens, logit bias, then custom stages;
/// then, when sampling, the warpers: temperature, top-k, top-p, min-p, typical-p), then takes the most likely token
/// (greedy) or draws one from a seeded generator. One instance serves one request.
/// </summary>
internal sealed class TokenSampler
{
    private readonly ISamplingStage[] _stages;
    private readonly Random? _random;
    private float[] _exps = [];

    public TokenSampler(ISamplingStage[] stages, Random? random)
    {
        _stages = stages;
        _random = random;
    }

    /// <summary>Whether the choice is random (false: greedy).</summary>
    public bool IsSampling => _random is not null;

    /// <summary>log(sum(exp(final scores))) of the last <see cref="Next(Span{float}, ReadOnlySpan{int}, out float)"/>: a token's log-probability is its final score minus this.</summary>
    public double LastLogSumExp { get; private set; }

    /// <summary>The stages, in the order they run.</summary>
    public IReadOnlyList<ISamplingStage> Stages => _stages;

    /// <summary>Runs every stage over <paramref name="logits"/>, in place.</summary>
    public void Process(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        foreach (var stage in _stages)
        {
            stage.Apply(logits, tokenIds);
        }
    }

    /// <summary>Chooses the next token, rewriting <paramref name="logits"/> in place.</summary>
    public int Next(Span<float> logits, ReadOnlySpan<int> tokenIds) => Next(logits, tokenIds, out _);

    /// <summary>
    /// Chooses the next token, rewriting <paramref name="logits"/> in place into the final scores, and gives its
    /// log-probability under softmax(final scores): the distribution it was drawn from, or for greedy the processed
    /// (unwarped) distribution.
    /// </summary>
    public int Next(Span<float> logits, ReadOnlySpan<int> tokenIds, out float logprob) => Next(logits, tokenIds, -1, out logprob);

    /// <summary>
    /// <see cref="Next(Span{float}, ReadOnlySpan{int}, out float)"/> for a position whose token was drafted
    /// (speculative decoding, <paramref name="draft"/> >= 0; -1: none). Greedy takes the most likely token as always
    /// (the draft is kept when it is that token). Sampling applies the speculative-sampling rule to the final
    /// distribution p (after every stage) with a draft distribution q that is a point mass on the draft: keep the draft
    /// with probability min(1, p(draft) / q(draft)) = p(draft), else draw from normalize(max(0, p - q)), which is p
    /// without the draft. The token's distribution is p either way.
    /// </summary>
    public int Next(Span<float> logits, ReadOnlySpan<int> tokenIds, int draft, out float logprob)
    {
        Process(logits, tokenIds);

        if (_exps.Length != logits.Length)
        {
            _exps = new float[logits.Length];
        }

        // exp(score - max), once per token, feeds both the draw and the log-probability.
        var exps = _exps.AsSpan();
        var sum = Selection.ExpSum(logits, exps, out var max);
        if (float.IsNegativeInfinity(max) || float.IsNaN(max))
        {
            throw new GptException("Every token was removed by the sampling stages, or the model produced NaN scores; nothing can be sampled.");
        }

        // Greedy: the first index of the max ExpSum already found (not NaN here), as ArgMax gives, without a second pass.
        var token = _random is null ? logits.IndexOf(max)
            : draft >= 0 && draft < exps.Length ? DrawAfterDraft(exps, sum, draft, _random)
            : Draw(exps, sum, _random);
        LastLogSumExp = max + Math.Log(sum);
        logprob = (float)(logits[token] - LastLogSumExp);
        return token;
    }

    /// <summary>The first index of the highest score, as torch.argmax.</summary>
    internal static int ArgMax(ReadOnlySpan<float> logits) => Selection.IndexOfMax(logits);

    /// <summary>
    /// Writes the ids of the highest finite scores to <paramref name="ids"/>, highest first (ties: lower id first),
    /// and returns how many were written (fewer than its length when fewer tokens are left).
    /// </summary>
    internal static int Top(ReadOnlySpan<float> logits, Span<int> ids)
    {
        var count = 0;
        if (ids.Length == 0)
        {
            return 0;
        }

        for (var i = 0; i < logits.Length; i++)
        {
            var score = logits[i];
            if (float.IsNegativeInfinity(score) || float.IsNaN(score) || (count == ids.Length && !(score > logits[ids[count - 1]])))
            {
                continue;
            }

            // Insertion into the short sorted list; equal scores stay after the earlier (lower) id.
            var at = count == ids.Length ? count - 1 : count++;
            while (at > 0 && logits[ids[at - 1]] < score)
            {
                ids[at] = ids[at - 1];
                at--;
            }

            ids[at] = i;
        }

        return count;
    }

    /// <summary>
    /// Keeps <paramref name="draft"/> with probability p(draft); otherwise draws from the residual
    /// normalize(max(0, p - q)) with q the point mass on the draft: p with the draft removed.
    /// </summary>
    private static int DrawAfterDraft(Span<float> exps, double sum, int draft, Random random)
    {
        var p = exps[draft] / sum;
        if (random.NextDouble() < p)
        {
            return draft;
        }

        var rest = sum - exps[draft];
        exps[draft] = 0;
        return rest > 0 ? Draw(exps, rest, random) : draft;
    }

    /// <summary>Draws an index with probability proportional to <paramref name="exps"/> (removed tokens are 0).</summary>
    private static int Draw(ReadOnlySpan<float> exps, double sum, Random random)
    {
        var target = random.NextDouble() * sum;
        var last = 0;
        var cumulative = 0.0;
        for (var i = 0; i < exps.Length; i++)
        {
            if (exps[i] == 0)
            {
                continue;
            }

            last = i;
            cumulative += exps[i];
            if (cumulative > target)
            {
                return i;
            }
        }

        return last;
    }
}
