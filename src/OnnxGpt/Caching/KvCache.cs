using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Models;

namespace OnnxGpt.Caching;

/// <summary>
/// The memory one request needs, allocated once for a maximum length and reused by later requests through
/// <see cref="KvCachePool"/>: two buffers per cache tensor (a step reads <c>past</c> from one and ONNX Runtime writes
/// <c>present</c> into the other, so nothing is allocated or copied by us per token), the token ids, positions and
/// attention mask fed to the graph, the last position's logits, and the native handle arrays for a run.
/// </summary>
internal sealed unsafe class KvCache : IDisposable
{
    private readonly void*[] _buffers;
    private readonly CacheMemory _memory;
    private bool _disposed;

    public KvCache(GraphLayout layout, int capacity, int vocabularySize, CacheMemory memory, int batchSize = 1)
    {
        _memory = memory;
        Capacity = capacity;
        BatchSize = batchSize;
        TensorCount = layout.PastNames.Length;
        var elementSize = layout.CacheElementType == TensorElementType.Float16 ? 2 : 4;
        var perPosition = (long)layout.KeyValueHeads * layout.HeadSize * elementSize * (layout.Convention == KvCacheConvention.Combined ? 2 : 1);
        BytesPerPosition = (nuint)perPosition;
        BytesPerTensor = checked((nuint)(perPosition * capacity * batchSize));
        _buffers = new void*[TensorCount * 2];
        try
        {
            for (var i = 0; i < _buffers.Length; i++)
            {
                _buffers[i] = memory.Allocate(BytesPerTensor);
            }
        }
        catch
        {
            // Device memory runs out here first: give back what was taken before the failing buffer.
            foreach (var buffer in _buffers)
            {
                if (buffer != null)
                {
                    memory.Free(buffer);
                }
            }

            throw;
        }

        Ids = GC.AllocateArray<long>(capacity * batchSize, pinned: true);
        Positions = GC.AllocateArray<long>(capacity * batchSize, pinned: true);
        Mask = GC.AllocateArray<long>(capacity * batchSize, pinned: true);
        for (var i = 0; i < capacity; i++)
        {
            Positions[i] = i;
            Mask[i] = 1;
        }

        Logits = GC.AllocateArray<float>(vocabularySize * batchSize, pinned: true);
        UseCacheFlags = GC.AllocateArray<bool>(2, pinned: true);
        UseCacheFlags[1] = true;
        Inputs = (IntPtr*)NativeMemory.AllocZeroed((nuint)(layout.InputNames.Length * sizeof(IntPtr)));
        Outputs = (IntPtr*)NativeMemory.AllocZeroed((nuint)(layout.OutputNames.Length * sizeof(IntPtr)));
        Past = (IntPtr*)NativeMemory.AllocZeroed((nuint)(Math.Max(TensorCount, 1) * sizeof(IntPtr)));
    }

    /// <summary>Positions the buffers hold, per sequence.</summary>
    public int Capacity { get; }

    /// <summary>Sequences the buffers hold (1 except for batched generation).</summary>
    public int BatchSize { get; }

    /// <summary>Number of cache tensors (twice the layers for separate keys and values).</summary>
    public int TensorCount { get; }

    /// <summary>Bytes one position of one sequence takes in one cache tensor.</summary>
    public nuint BytesPerPosition { get; }

    /// <summary>Bytes of one cache buffer.</summary>
    public nuint BytesPerTensor { get; }

    /// <summary>Bytes of all key/value buffers (two per cache tensor).</summary>
    public long Bytes => (long)BytesPerTensor * TensorCount * 2;

    /// <summary>Token ids fed to the graph (pinned; for a batch, the rows of the current run, one after the other).</summary>
    public long[] Ids { get; }

    /// <summary>Position ids 0, 1, 2, ... (pinned).</summary>
    public long[] Positions { get; }

    /// <summary>An attention mask of ones (pinned).</summary>
    public long[] Mask { get; }

    /// <summary>The next token's scores, one row per sequence (pinned, so that decode steps can have ONNX Runtime write them here).</summary>
    public float[] Logits { get; }

    /// <summary>false, true: the values of a merged graph's <c>use_cache_branch</c> (pinned).</summary>
    public bool[] UseCacheFlags { get; }

    /// <summary>Input handles for a run.</summary>
    public IntPtr* Inputs { get; }

    /// <summary>Output handles for a run.</summary>
    public IntPtr* Outputs { get; }

    /// <summary>The current <c>past</c> value of each cache tensor.</summary>
    public IntPtr* Past { get; }

    /// <summary>Whether the cache buffers are host memory (so they can be compacted in place).</summary>
    public bool IsHostMemory => _memory.IsHost;

    /// <summary>The OrtMemoryInfo of the cache buffers (host or device).</summary>
    public IntPtr MemoryInfo => _memory.InfoHandle;

    /// <summary>One of the two buffers of cache tensor <paramref name="tensor"/>.</summary>
    public void* Buffer(int tensor, int side) => _buffers[(tensor * 2) + side];

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var buffer in _buffers)
        {
            _memory.Free(buffer);
        }

        NativeMemory.Free(Inputs);
        NativeMemory.Free(Outputs);
        NativeMemory.Free(Past);
    }
}
