namespace OnnxGpt.AspNetCore;

/// <summary>
/// GET /health's answer: <c>{"status":"ok","model":…,"in_flight":0,"generations":{"running":0,"queued":0},"cache":{"rented":0,"idle":1,"conversations":0}}</c>.
/// </summary>
/// <param name="Status">Always "ok": the server answers only once the model is loaded.</param>
/// <param name="Model">The first model's id, as in /v1/models.</param>
/// <param name="Models">Every served model's id.</param>
/// <param name="InFlight">Requests to /v1/chat/completions and /v1/completions being handled now, streams included.</param>
/// <param name="Generations">Generations running and waiting for a slot; summed over the models; null when no model has <c>Gpt:MaxConcurrentRequests</c>.</param>
/// <param name="Cache">The models' pools of request caches, summed; null when no model runs on OnnxGpt's own backend.</param>
internal sealed record ServerHealth(string Status, string Model, IReadOnlyList<string> Models, int InFlight, HealthGenerations? Generations, HealthCache? Cache);

/// <summary>The concurrency limit's view of generations.</summary>
/// <param name="Running">Generations holding a slot.</param>
/// <param name="Queued">Requests waiting for a slot.</param>
internal sealed record HealthGenerations(int Running, int Queued);

/// <summary>The model's <see cref="OnnxGpt.Caching.KvCacheStatistics"/>.</summary>
/// <param name="Rented">Caches held by running generations and kept conversations; 0 when the server is idle.</param>
/// <param name="Idle">Caches kept for reuse by later requests.</param>
/// <param name="Conversations">Conversations whose cache is kept for their next turn.</param>
internal sealed record HealthCache(int Rented, int Idle, int Conversations);

/// <summary>Counts the generation requests being handled.</summary>
internal sealed class RequestCounter
{
    private int _inFlight;

    /// <summary>Requests being handled now.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Counts a request until the returned scope is disposed.</summary>
    /// <returns>The request's scope.</returns>
    public Scope Enter()
    {
        Interlocked.Increment(ref _inFlight);
        return new Scope(this);
    }

    /// <summary>A request being handled; disposing it stops counting it.</summary>
    internal readonly struct Scope(RequestCounter counter) : IDisposable
    {
        /// <inheritdoc />
        public void Dispose() => Interlocked.Decrement(ref counter._inFlight);
    }
}
