using System.Collections.Concurrent;
using System.Numerics;
using OnnxGpt.Models;

namespace OnnxGpt.Caching;

/// <summary>
/// Keeps the caches of finished requests for the next ones, so that a long-running host reuses memory instead of
/// growing. Caches come in power-of-two capacities up to the context length; a few idle ones per capacity are kept
/// and the rest freed.
/// </summary>
internal sealed class KvCachePool : IDisposable
{
    private const int MinimumCapacity = 64;

    private readonly GraphLayout _layout;
    private readonly int _contextLength;
    private readonly int _vocabularySize;
    private readonly int _idlePerCapacity;
    private readonly ConcurrentDictionary<(int Capacity, int Batch), ConcurrentBag<KvCache>> _idle = new();
    private int _rented;
    private long _rentedBytes;
    private volatile bool _disposed;

    public KvCachePool(GraphLayout layout, int contextLength, int vocabularySize, int idlePerCapacity, CacheMemory memory)
    {
        Memory = memory;
        _layout = layout;
        _contextLength = contextLength;
        _vocabularySize = vocabularySize;
        _idlePerCapacity = idlePerCapacity;
    }

    /// <summary>Where the caches live; owned by the pool.</summary>
    public CacheMemory Memory { get; }

    /// <summary>Caches currently handed out and not yet returned.</summary>
    public int Rented => Volatile.Read(ref _rented);

    /// <summary>Caches kept idle for reuse.</summary>
    public int Idle => _idle.Values.Sum(b => b.Count);

    /// <summary>Bytes of key/value buffers held by rented caches.</summary>
    public long RentedBytes => Interlocked.Read(ref _rentedBytes);

    /// <summary>Bytes of key/value buffers held by idle caches.</summary>
    public long IdleBytes => _idle.Values.Sum(b => b.Sum(c => c.Bytes));

    /// <summary>A cache for at least <paramref name="positions"/> positions of <paramref name="batchSize"/> sequences.</summary>
    public KvCache Rent(int positions, int batchSize = 1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var capacity = Math.Min((int)Math.Min(BitOperations.RoundUpToPowerOf2((uint)Math.Max(positions, MinimumCapacity)), int.MaxValue), Math.Max(_contextLength, positions));
        // Counted before the allocation, so that a pool disposed meanwhile keeps its memory for this cache.
        Interlocked.Increment(ref _rented);
        KvCache? cache;
        try
        {
            if (!_idle.TryGetValue((capacity, batchSize), out var bag) || !bag.TryTake(out cache))
            {
                cache = new KvCache(_layout, capacity, _vocabularySize, Memory, batchSize);
            }
        }
        catch
        {
            // A failed allocation rents nothing.
            Interlocked.Decrement(ref _rented);
            throw;
        }

        Interlocked.Add(ref _rentedBytes, cache.Bytes);
        return cache;
    }

    /// <summary>Takes a cache back when its request ends, however it ended.</summary>
    public void Return(KvCache cache)
    {
        Interlocked.Decrement(ref _rented);
        Interlocked.Add(ref _rentedBytes, -cache.Bytes);
        var bag = _idle.GetOrAdd((cache.Capacity, cache.BatchSize), _ => []);
        if (_disposed || bag.Count >= _idlePerCapacity)
        {
            cache.Dispose();
            if (_disposed && Rented == 0)
            {
                Memory.Dispose();
            }

            return;
        }

        bag.Add(cache);
        if (_disposed && bag.TryTake(out var late))
        {
            late.Dispose();
        }
    }

    /// <summary>Frees the idle caches (those of a load-time check, which no request asked for).</summary>
    public void FreeIdle()
    {
        foreach (var bag in _idle.Values)
        {
            while (bag.TryTake(out var cache))
            {
                cache.Dispose();
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var bag in _idle.Values)
        {
            while (bag.TryTake(out var cache))
            {
                cache.Dispose();
            }
        }

        // Caches still rented free their buffers when returned; device memory goes with the allocator after them.
        if (Rented == 0)
        {
            Memory.Dispose();
        }
    }
}
