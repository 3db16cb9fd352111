using OnnxGpt.Sampling;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Generation;

/// <summary>
/// The distribution the first generated token would be chosen from, after the sampling pipeline, as returned by
/// <see cref="GptGenerator.GetNextTokenDistributionAsync"/>: which tokens the stages leave allowed and their
/// probabilities. When <see cref="IsSampling"/> is false (greedy), it is the processed but unwarped distribution,
/// whose most likely token greedy generation takes.
/// </summary>
public sealed class NextTokenDistribution
{
    private readonly float[] _logits;
    private readonly double _logSumExp;
    private readonly int[] _allowed;
    private readonly float[] _probabilities;
    private readonly float[] _logprobs;
    private readonly GptTokenizer? _tokenizer;

    internal NextTokenDistribution(IReadOnlyList<int> promptTokenIds, float[] finalLogits, bool isSampling, IReadOnlyList<ISamplingStage> stages, GptTokenizer? tokenizer)
    {
        PromptTokenIds = promptTokenIds;
        IsSampling = isSampling;
        Stages = stages;
        _logits = finalLogits;
        _tokenizer = tokenizer;
        _logSumExp = Selection.LogSumExp(finalLogits);
        if (double.IsNaN(_logSumExp) || double.IsNegativeInfinity(_logSumExp))
        {
            throw new GptException("Every token was removed by the sampling stages, or the model produced NaN scores; there is no distribution.");
        }

        var count = 0;
        foreach (var l in finalLogits)
        {
            if (!float.IsNegativeInfinity(l))
            {
                count++;
            }
        }

        _allowed = new int[count];
        _probabilities = new float[count];
        _logprobs = new float[count];
        var n = 0;
        for (var i = 0; i < finalLogits.Length; i++)
        {
            if (!float.IsNegativeInfinity(finalLogits[i]))
            {
                var logprob = finalLogits[i] - _logSumExp;
                _allowed[n] = i;
                _probabilities[n] = (float)Math.Exp(logprob);
                _logprobs[n] = (float)logprob;
                n++;
            }
        }
    }

    /// <summary>The prompt's token ids, as fed to the model.</summary>
    public IReadOnlyList<int> PromptTokenIds { get; }

    /// <summary>Whether the options sample (the warpers ran); false: greedy, only the processors ran.</summary>
    public bool IsSampling { get; }

    /// <summary>The stages that ran, in order.</summary>
    public IReadOnlyList<ISamplingStage> Stages { get; }

    /// <summary>The number of tokens in the vocabulary.</summary>
    public int VocabularySize => _logits.Length;

    /// <summary>The token ids the stages left allowed (probability above 0), in ascending order.</summary>
    public IReadOnlyList<int> AllowedTokenIds => _allowed;

    /// <summary>The probability of each of <see cref="AllowedTokenIds"/>, in the same order; they sum to 1.</summary>
    public IReadOnlyList<float> Probabilities => _probabilities;

    /// <summary>The natural log of each of <see cref="Probabilities"/>, in the same order.</summary>
    public IReadOnlyList<float> Logprobs => _logprobs;

    /// <summary>A token's probability; 0 when the stages removed it or it is outside the vocabulary.</summary>
    /// <param name="tokenId">The token id.</param>
    /// <returns>The probability.</returns>
    public float GetProbability(int tokenId) =>
        (uint)tokenId < (uint)_logits.Length && !float.IsNegativeInfinity(_logits[tokenId]) ? (float)Math.Exp(_logits[tokenId] - _logSumExp) : 0f;

    /// <summary>A token's log-probability; negative infinity when the stages removed it or it is outside the vocabulary.</summary>
    /// <param name="tokenId">The token id.</param>
    /// <returns>The natural log of the probability.</returns>
    public float GetLogprob(int tokenId) =>
        (uint)tokenId < (uint)_logits.Length ? (float)(_logits[tokenId] - _logSumExp) : float.NegativeInfinity;

    /// <summary>The most likely allowed tokens, most likely first (ties: lower id first), with their text.</summary>
    /// <param name="count">How many to return at most; fewer when fewer tokens are allowed.</param>
    /// <returns>The tokens.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    public IReadOnlyList<TokenProbability> GetTop(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = (int[])_allowed.Clone();
        var logits = _logits;
        Array.Sort(order, (a, b) => logits[a] != logits[b] ? logits[b].CompareTo(logits[a]) : a.CompareTo(b));
        var top = new TokenProbability[Math.Min(count, order.Length)];
        for (var i = 0; i < top.Length; i++)
        {
            var id = order[i];
            top[i] = new TokenProbability(id, Decode(_tokenizer, id), GetProbability(id), GetLogprob(id));
        }

        return top;
    }

    /// <summary>One token's text on its own; empty without a tokenizer.</summary>
    internal static string Decode(GptTokenizer? tokenizer, int id) => tokenizer?.Decode([id]) ?? string.Empty;
}
