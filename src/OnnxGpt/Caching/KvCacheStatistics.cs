namespace OnnxGpt.Caching;

/// <summary>A snapshot of a model's pool of request caches.</summary>
/// <param name="Rented">Caches held by running generations and by kept conversations.</param>
/// <param name="Idle">Caches kept for reuse by later requests.</param>
/// <param name="Conversations">Conversations whose cache is kept for their next turn (counted in <paramref name="Rented"/>).</param>
/// <param name="RentedBytes">Bytes of key/value buffers in the rented caches (reserved; pages are touched as positions fill).</param>
/// <param name="IdleBytes">Bytes of key/value buffers in the idle caches.</param>
public readonly record struct KvCacheStatistics(int Rented, int Idle, int Conversations = 0, long RentedBytes = 0, long IdleBytes = 0);
