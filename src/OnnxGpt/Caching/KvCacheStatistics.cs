namespace OnnxGpt.Caching;

/// <summary>A snapshot of a model's pool of request caches.</summary>
/// <param name="Rented">Caches held by running generations.</param>
/// <param name="Idle">Caches kept for reuse by later requests.</param>
public readonly record struct KvCacheStatistics(int Rented, int Idle);
