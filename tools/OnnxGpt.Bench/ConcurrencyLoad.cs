namespace OnnxGpt.Bench;

/// <summary>How <see cref="ConcurrencyBenchmark"/> starts its streams' requests.</summary>
public enum ConcurrencyLoad
{
    /// <summary>Every stream starts one request at once.</summary>
    Burst,

    /// <summary>Each client starts its next request when its previous one ends, the clients staggered across one request's duration.</summary>
    ClosedLoop,
}
