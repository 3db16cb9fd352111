using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Caching;
using OnnxGpt.Models;
using OnnxGpt.Native;

namespace OnnxGpt.Generation;

/// <summary>
/// Runs one request's forward passes: the prompt in one run, then one token per run through the cache.
/// Everything a step touches (ids, positions, mask, both cache buffers, the logits) was allocated for the request
/// up front and comes from the model's <see cref="KvCachePool"/>; a decode step calls ONNX Runtime's C API with
/// native handles, has it write <c>present</c> straight into the buffer the next step reads as <c>past</c>, and
/// the logits straight into <see cref="Logits"/>: nothing is allocated on the managed heap and nothing is copied
/// by OnnxGpt.
/// </summary>
internal sealed unsafe class DecoderSession : IDisposable
{
    private readonly GptModel _model;
    private readonly GraphLayout _layout;
    private readonly KvCache _cache;
    private readonly RunOptions _runOptions = new();
    private CancellationToken _cancellationToken;
    private CancellationTokenRegistration _registration;
    private readonly IntPtr _memoryInfo = OrtMemoryInfo.DefaultInstance.DangerousGetHandle();
    private readonly int _vocabulary;
    private readonly KvCachePool _pool;
    private readonly int _cacheElementType;
    private readonly long _headsDim;
    private readonly OrtNative.Api _api = OrtNative.Functions;
    private readonly int _batch;
    private readonly int[] _pads;
    private IntPtr _decodeLogits;
    private IntPtr _useCacheFalse;
    private IntPtr _useCacheTrue;
    private int _side;
    private int _length;
    private bool _disposed;

    public DecoderSession(GptModel model, int capacity, CancellationToken cancellationToken, int batchSize = 1)
    {
        _model = model;
        _layout = model.Layout;
        _vocabulary = model.Info.VocabularySize;
        _cacheElementType = (int)_layout.CacheElementType;
        _headsDim = _layout.KeyValueHeads;
        if (batchSize > 1 && _layout.Convention == KvCacheConvention.None)
        {
            throw new NotSupportedException($"'{model.Info.ModelPath}' has no KV cache; batched generation needs a graph with one. Generate the prompts one at a time.");
        }

        _batch = batchSize;
        _pads = new int[batchSize];
        _pool = model.CachePool;
        _cache = _pool.Rent(capacity, batchSize);
        _cancellationToken = cancellationToken;
        try
        {
            if (_layout.LogitsElementType == TensorElementType.Float)
            {
                // Decode steps produce [1, 1, vocabulary]: ONNX Runtime writes them into our pinned buffer.
                var shape = stackalloc long[3] { batchSize, 1, _vocabulary };
                _decodeLogits = CreateTensor(Pin(_cache.Logits), (nuint)(batchSize * _vocabulary * sizeof(float)), shape, 3, (int)TensorElementType.Float);
            }

            if (_layout.HasUseCacheBranch)
            {
                var shape = stackalloc long[1] { 1 };
                var flags = (bool*)Pin(_cache.UseCacheFlags);
                _useCacheFalse = CreateTensor(flags, 1, shape, 1, (int)TensorElementType.Bool);
                _useCacheTrue = CreateTensor(flags + 1, 1, shape, 1, (int)TensorElementType.Bool);
            }

            // Cancelling stops a long prompt's run inside ONNX Runtime, not just between tokens.
            _registration = cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, _runOptions);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The scores of the next token after the last run; the sampler rewrites them in place.</summary>
    public float[] Logits => _cache.Logits;

    /// <summary>Number of positions processed so far.</summary>
    public int Length => _length;

    /// <summary>Positions the request's buffers hold.</summary>
    public int Capacity => _cache.Capacity;

    /// <summary>The token ids processed so far (one sequence), which the cache holds keys and values for.</summary>
    public ReadOnlySpan<long> ProcessedIds => _cache.Ids.AsSpan(0, _batch == 1 ? _length : 0);

    /// <summary>Ties a kept session to the next request's cancellation token.</summary>
    public void Attach(CancellationToken cancellationToken)
    {
        _registration.Dispose();
        _runOptions.Terminate = false;
        _cancellationToken = cancellationToken;
        _registration = cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, _runOptions);
    }

    /// <summary>
    /// Keeps only the first <paramref name="length"/> positions of the cache, so that a prompt sharing that prefix
    /// continues from there. Compacting means copying each head's first positions, which OnnxGpt does only for
    /// host memory; returns false when the cache cannot be cut (device memory), and the caller starts afresh.
    /// </summary>
    public bool TryRewind(int length)
    {
        if (length == _length)
        {
            return true;
        }

        if (length > _length || length < 0 || _batch != 1 || !_cache.IsHostMemory || _layout.Convention == KvCacheConvention.None)
        {
            return false;
        }

        // Keys and values are [outer, positions, head size] with outer = heads (x2 when combined): copy the first
        // `length` positions of every head into the other buffer, which then becomes the past.
        var elementSize = _layout.CacheElementType == TensorElementType.Float16 ? 2 : 4;
        var row = (long)_layout.HeadSize * elementSize;
        var outer = (long)_headsDim * (_layout.Convention == KvCacheConvention.Combined ? 2 : 1);
        for (var i = 0; i < _cache.TensorCount; i++)
        {
            var source = (byte*)_cache.Buffer(i, _side);
            var target = (byte*)_cache.Buffer(i, 1 - _side);
            for (var o = 0; o < outer; o++)
            {
                Buffer.MemoryCopy(source + (o * _length * row), target + (o * length * row), length * row, length * row);
            }

            _api.ReleaseValue(_cache.Past[i]);
            _cache.Past[i] = CreateCacheTensor(i, 1 - _side, length);
        }

        _side = 1 - _side;
        _length = length;
        return true;
    }

    /// <summary>Runs the prompt's tokens from <paramref name="start"/> on, over a cache holding the ones before.</summary>
    public void PrefillFrom(IReadOnlyList<int> promptIds, int start)
    {
        if (start != _length || start >= promptIds.Count)
        {
            throw new InvalidOperationException($"The cache holds {_length} positions; it cannot continue a {promptIds.Count}-token prompt from {start}.");
        }

        var ids = _cache.Ids;
        for (var i = start; i < promptIds.Count; i++)
        {
            ids[i] = promptIds[i];
        }

        Run(start, promptIds.Count - start);
    }

    /// <summary>Runs the whole prompt at once; leaves the scores of the token after it in <see cref="Logits"/>.</summary>
    public void Prefill(IReadOnlyList<int> promptIds)
    {
        var ids = _cache.Ids;
        for (var i = 0; i < promptIds.Count; i++)
        {
            ids[i] = promptIds[i];
        }

        Run(0, promptIds.Count);
    }

    /// <summary>Feeds one token; leaves the scores of the token after it in <see cref="Logits"/>.</summary>
    public void Step(int tokenId)
    {
        _cache.Ids[_length] = tokenId;
        Run(_length, 1);
    }

    /// <summary>
    /// Runs several prompts at once, left-padded to the longest with <paramref name="padTokenId"/> (masked out, as
    /// Hugging Face does); leaves row r's next-token scores at <c>Logits[r * vocabulary ..]</c>.
    /// </summary>
    public void PrefillBatch(IReadOnlyList<IReadOnlyList<int>> prompts, int padTokenId)
    {
        var longest = prompts.Max(p => p.Count);
        var ids = _cache.Ids;
        var mask = _cache.Mask;
        var positions = _cache.Positions;
        for (var r = 0; r < _batch; r++)
        {
            var prompt = prompts[r];
            var pad = _pads[r] = longest - prompt.Count;
            var row = r * longest;
            for (var p = 0; p < longest; p++)
            {
                var real = p >= pad;
                ids[row + p] = real ? prompt[p - pad] : padTokenId;
                mask[row + p] = real ? 1 : 0;

                // Hugging Face derives positions from the mask: cumsum - 1 (+ the model's first position id), and 1 where masked.
                positions[row + p] = real ? p - pad + _layout.FirstPositionId : 1;
            }
        }

        RunBatch(longest, longest, firstStep: true);
    }

    /// <summary>Feeds one token per row; leaves each row's next-token scores in <see cref="Logits"/>.</summary>
    public void StepBatch(ReadOnlySpan<int> tokenIds)
    {
        var total = _length + 1;
        var ids = _cache.Ids;
        var mask = _cache.Mask;
        var positions = _cache.Positions;
        for (var r = 0; r < _batch; r++)
        {
            ids[r] = tokenIds[r];
            positions[r] = total - 1 - _pads[r] + _layout.FirstPositionId;
            var row = mask.AsSpan(r * total, total);
            row[.._pads[r]].Clear();
            row[_pads[r]..].Fill(1);
        }

        RunBatch(1, total, firstStep: false);
    }

    private static void* Pin<T>(T[] pinnedArray)
        where T : unmanaged
    {
        // The arrays live on the pinned object heap, so their address never changes.
        fixed (T* p = pinnedArray)
        {
            return p;
        }
    }

    private void Run(int start, int count)
    {
        // Without a cache the whole sequence is fed again at every step.
        var total = start + count;
        var feedStart = _layout.Convention == KvCacheConvention.None ? 0 : start;
        RunCore(
            (long*)Pin(_cache.Ids) + feedStart,
            (long*)Pin(_cache.Mask),
            (long*)Pin(_cache.Positions) + feedStart,
            total - feedStart,
            total,
            firstStep: start == 0);
    }

    private void RunBatch(int feedCount, int total, bool firstStep) =>
        RunCore((long*)Pin(_cache.Ids), (long*)Pin(_cache.Mask), (long*)Pin(_cache.Positions), feedCount, total, firstStep);

    /// <summary>
    /// One forward pass: <paramref name="ids"/> and <paramref name="positions"/> hold [batch, feedCount] values,
    /// <paramref name="mask"/> [batch, total]; the cache grows to <paramref name="total"/> positions.
    /// </summary>
    private void RunCore(long* ids, long* mask, long* positions, int feedCount, int total, bool firstStep)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (total > _cache.Capacity)
        {
            throw new InvalidOperationException($"The request's buffers hold {_cache.Capacity} positions; position {total - 1} does not fit.");
        }

        var feedStart = total - feedCount;
        var inputs = _cache.Inputs;
        var outputs = _cache.Outputs;
        var cacheCount = _cache.TensorCount;
        var shape = stackalloc long[5];
        var n = 0;

        shape[0] = _batch;
        shape[1] = feedCount;
        inputs[n++] = CreateTensor(ids, (nuint)(_batch * feedCount * sizeof(long)), shape, 2, (int)TensorElementType.Int64);
        if (_layout.HasAttentionMask)
        {
            shape[1] = total;
            inputs[n++] = CreateTensor(mask, (nuint)(_batch * total * sizeof(long)), shape, 2, (int)TensorElementType.Int64);
        }

        if (_layout.HasPositionIds)
        {
            shape[1] = feedCount;
            inputs[n++] = CreateTensor(positions, (nuint)(_batch * feedCount * sizeof(long)), shape, 2, (int)TensorElementType.Int64);
        }

        var firstOwnedInput = n;
        for (var i = 0; i < cacheCount; i++)
        {
            if (_cache.Past[i] == IntPtr.Zero)
            {
                _cache.Past[i] = CreateCacheTensor(i, _side, 0);
            }

            inputs[n++] = _cache.Past[i];
        }

        if (_layout.HasUseCacheBranch)
        {
            inputs[n++] = firstStep ? _useCacheFalse : _useCacheTrue;
        }

        // Optimum's split layout runs the prompt through its own graph, which takes no cache inputs.
        var prefillGraph = firstStep && _model.PrefillNames is not null;
        if (prefillGraph)
        {
            n = firstOwnedInput;
        }

        var bindLogits = feedCount == 1 && _decodeLogits != IntPtr.Zero;
        outputs[0] = bindLogits ? _decodeLogits : IntPtr.Zero;
        IntPtr status;
        try
        {
            for (var i = 0; i < cacheCount; i++)
            {
                outputs[1 + i] = CreateCacheTensor(i, 1 - _side, total);
            }

            _model.EnterRun();
            try
            {
                var names = prefillGraph ? _model.PrefillNames! : _model.NativeNames;
                var session = prefillGraph ? _model.PrefillSessionHandle : _model.SessionHandle;
                status = _api.Run(session, _runOptions.DangerousGetHandle(), names.Inputs, inputs, (nuint)n, names.Outputs, (nuint)(1 + cacheCount), outputs);
            }
            finally
            {
                _model.ExitRun();
            }
        }
        finally
        {
            for (var i = 0; i < firstOwnedInput; i++)
            {
                _api.ReleaseValue(inputs[i]);
            }
        }

        if (status != IntPtr.Zero)
        {
            var message = OrtNative.TakeMessage(status);
            for (var i = 0; i < cacheCount; i++)
            {
                _api.ReleaseValue(outputs[1 + i]);
            }

            if (!bindLogits && outputs[0] != IntPtr.Zero)
            {
                _api.ReleaseValue(outputs[0]);
            }

            _cancellationToken.ThrowIfCancellationRequested();
            throw new GptException($"ONNX Runtime failed while processing positions {feedStart}..{total - 1} of '{_model.Info.ModelPath}': {message}");
        }

        if (!bindLogits)
        {
            try
            {
                ReadLastLogits(outputs[0], feedCount);
            }
            finally
            {
                _api.ReleaseValue(outputs[0]);
            }
        }

        for (var i = 0; i < cacheCount; i++)
        {
            _api.ReleaseValue(_cache.Past[i]);
            _cache.Past[i] = outputs[1 + i];
        }

        _side = 1 - _side;
        _length = total;
    }

    private IntPtr CreateCacheTensor(int tensor, int side, int positions)
    {
        var shape = stackalloc long[5];
        var rank = 0;
        if (_layout.Convention == KvCacheConvention.Combined)
        {
            shape[rank++] = 2;
        }

        shape[rank++] = _batch;
        shape[rank++] = _headsDim;
        shape[rank++] = positions;
        shape[rank++] = _layout.HeadSize;
        var bytes = _cache.BytesPerTensor / (nuint)_cache.Capacity * (nuint)positions;
        IntPtr value;
        OrtNative.Check(_api.CreateTensorWithData(_cache.MemoryInfo, _cache.Buffer(tensor, side), bytes, shape, (nuint)rank, _cacheElementType, &value), "CreateTensorWithDataAsOrtValue");
        return value;
    }

    private IntPtr CreateTensor(void* data, nuint bytes, long* shape, nuint rank, int elementType)
    {
        IntPtr value;
        OrtNative.Check(_api.CreateTensorWithData(_memoryInfo, data, bytes, shape, rank, elementType, &value), "CreateTensorWithDataAsOrtValue");
        return value;
    }

    private void ReadLastLogits(IntPtr logits, int sequenceLength)
    {
        void* data;
        OrtNative.Check(_api.GetTensorMutableData(logits, &data), "GetTensorMutableData");
        var target = _cache.Logits.AsSpan();
        for (var r = 0; r < _batch; r++)
        {
            var offset = (((long)r * sequenceLength) + sequenceLength - 1) * _vocabulary;
            var row = target.Slice(r * _vocabulary, _vocabulary);
            if (_layout.LogitsElementType == TensorElementType.Float16)
            {
                TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)data + offset, _vocabulary), row);
            }
            else
            {
                new ReadOnlySpan<float>((float*)data + offset, _vocabulary).CopyTo(row);
            }
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _registration.Dispose();
        for (var i = 0; i < _cache.TensorCount; i++)
        {
            if (_cache.Past[i] != IntPtr.Zero)
            {
                _api.ReleaseValue(_cache.Past[i]);
                _cache.Past[i] = IntPtr.Zero;
            }
        }

        foreach (var value in new[] { _decodeLogits, _useCacheFalse, _useCacheTrue })
        {
            if (value != IntPtr.Zero)
            {
                _api.ReleaseValue(value);
            }
        }

        _decodeLogits = _useCacheFalse = _useCacheTrue = IntPtr.Zero;
        _runOptions.Dispose();
        _pool.Return(_cache);
    }
}
