namespace OnnxGpt.Bench;

/// <summary>A peer implementation (LLamaSharp on a GGUF of the same weights) against OnnxGpt in the same run.</summary>
public sealed class PeerComparison
{
    /// <summary>Positions compared: the shorter of the two main runs' generated ids.</summary>
    public required int IdsCompared { get; init; }

    /// <summary>Positions where the peer's greedy id equals OnnxGpt's.</summary>
    public required int IdsEqual { get; init; }

    /// <summary>Leading positions where the ids agree (after the first difference the two continue different texts).</summary>
    public required int CommonPrefix { get; init; }

    /// <summary>OnnxGpt's decode tokens/s over the peer's: above 1, OnnxGpt is faster.</summary>
    public double? OnnxGptDecodeSpeedup { get; init; }

    /// <summary>OnnxGpt's time to first token over the peer's: below 1, OnnxGpt answers sooner.</summary>
    public double? OnnxGptTimeToFirstTokenRatio { get; init; }
}
