namespace OnnxGpt.Bench;

/// <summary>One mode of <see cref="SpeculativeBenchmark"/>.</summary>
public sealed record SpeculativeResult
{
    /// <summary>plain, prompt lookup N, or draft NAME.</summary>
    public required string Mode { get; init; }

    /// <summary>Median time of a whole request (prompt and every token), ms.</summary>
    public required double TotalMs { get; init; }

    /// <summary>Median time to the first token, ms.</summary>
    public required double TimeToFirstTokenMs { get; init; }

    /// <summary>Median tokens after the first per second after the first.</summary>
    public required double DecodeTokensPerSecond { get; init; }

    /// <summary>Tokens generated in the last round.</summary>
    public required int GeneratedTokens { get; init; }

    /// <summary>Tokens drafted in the last round.</summary>
    public required int DraftedTokens { get; init; }

    /// <summary>Drafted tokens kept in the last round.</summary>
    public required int AcceptedTokens { get; init; }

    /// <summary>Whether every round gave plain greedy's ids.</summary>
    public required bool IdsMatchPlain { get; init; }
}
