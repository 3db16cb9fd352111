using System.Numerics;
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
    private KvCache _cache;
    private readonly RunOptions _runOptions = new();
    private CancellationToken _cancellationToken;
    private CancellationTokenRegistration _registration;
    private readonly IntPtr _memoryInfo = OrtMemoryInfo.DefaultInstance.DangerousGetHandle();
    private readonly int _vocabulary;
    private readonly KvCachePool _pool;
    private readonly int _cacheElementType;
    private readonly long _headsDim;
    private readonly OrtNative.Api _api = OrtNative.Functions;
    private int _rows;
    private int[] _pads;
    private IntPtr _decodeLogits;
    private int _decodeLogitsRows;
    private IntPtr _useCacheFalse;
    private IntPtr _useCacheTrue;
    private int _side;
    private int _length;
    private bool _disposed;
    private float[]? _verifyLogits;

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

        _rows = batchSize;
        _pads = new int[batchSize];
        _pool = model.Runtime.CachePool;
        _cache = _pool.Rent(capacity, batchSize);
        _cancellationToken = cancellationToken;
        try
        {
            BindFlags();

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
    public ReadOnlySpan<long> ProcessedIds => _cache.Ids.AsSpan(0, _rows == 1 ? _length : 0);

    /// <summary>Rows the cache holds now.</summary>
    public int Rows => _rows;

    /// <summary>Whether the cache can be copied and compacted by OnnxGpt (host memory), which batching needs.</summary>
    public bool IsHostMemory => _cache.IsHostMemory;

    /// <summary>The real (unpadded) positions row <paramref name="row"/> holds.</summary>
    public int RowLength(int row) => _length - _pads[row];

    /// <summary>Records the ids a one-row cache holds, so that a kept conversation can be matched against the next prompt.</summary>
    public void SetProcessedIds(ReadOnlySpan<int> ids)
    {
        if (_rows != 1 || ids.Length < _length)
        {
            throw new InvalidOperationException($"A one-row cache of {_length} positions needs at least as many ids, not {ids.Length}.");
        }

        for (var i = 0; i < _length; i++)
        {
            _cache.Ids[i] = ids[i];
        }
    }

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

        if (length > _length || length < 0 || _rows != 1 || _pads[0] != 0 || !_cache.IsHostMemory || _layout.Convention == KvCacheConvention.None)
        {
            return false;
        }

        // Keys and values are [outer, positions, head size] with outer = heads (x2 when combined): copy the first
        // `length` positions of every head into the other buffer, which then becomes the past.
        var row = RowBytes();
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
    public void PrefillFrom(IReadOnlyList<int> promptIds, int start) => PrefillRange(promptIds, start, promptIds.Count);

    /// <summary>
    /// Runs the prompt's tokens <paramref name="start"/>..<paramref name="end"/> (exclusive) over a one-row cache
    /// holding the ones before: a long prompt runs in bounded chunks, so that it never stalls other rows for long.
    /// </summary>
    public void PrefillRange(IReadOnlyList<int> promptIds, int start, int end)
    {
        if (start != _length || start >= end || end > promptIds.Count || _rows != 1)
        {
            throw new InvalidOperationException($"The cache holds {_length} positions; it cannot continue a {promptIds.Count}-token prompt from {start} to {end}.");
        }

        var ids = _cache.Ids;
        for (var i = start; i < end; i++)
        {
            ids[i] = promptIds[i];
        }

        Run(start, end - start);
    }

    /// <summary>Runs the whole prompt at once; leaves the scores of the token after it in <see cref="Logits"/>.</summary>
    public void Prefill(IReadOnlyList<int> promptIds)
    {
        if (_length != 0 || _rows != 1)
        {
            throw new InvalidOperationException("Prefill starts an empty one-row cache.");
        }

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
        if (_length != 0 || prompts.Count > _cache.BatchSize)
        {
            throw new InvalidOperationException($"PrefillBatch starts an empty cache of at most {_cache.BatchSize} rows.");
        }

        _rows = prompts.Count;
        var longest = 0;
        foreach (var prompt in prompts)
        {
            longest = Math.Max(longest, prompt.Count);
        }

        var ids = _cache.Ids;
        var mask = _cache.Mask;
        var positions = _cache.Positions;
        for (var r = 0; r < _rows; r++)
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
        if (_layout.Convention == KvCacheConvention.None)
        {
            // Without a cache the one row's whole sequence is fed again (see Run).
            Step(tokenIds[0]);
            return;
        }

        var total = _length + 1;
        var ids = _cache.Ids;
        var mask = _cache.Mask;
        var positions = _cache.Positions;
        for (var r = 0; r < _rows; r++)
        {
            ids[r] = tokenIds[r];
            positions[r] = total - 1 - _pads[r] + _layout.FirstPositionId;
            var row = mask.AsSpan(r * total, total);
            row[.._pads[r]].Clear();
            row[_pads[r]..].Fill(1);
        }

        RunBatch(1, total, firstStep: false);
    }

    /// <summary>
    /// Rebuilds this cache as the batch <paramref name="rows"/> describe, in their order: each row's real positions,
    /// copied from wherever they are now (this cache or another session's), right-aligned to the longest row, with
    /// zeroed padding on the left that the attention mask hides. Rows join and leave a running batch this way, and
    /// the padding shrinks when the longest row leaves. The cache grows (a larger one from the pool) when the rows
    /// or <paramref name="positions"/> do not fit. Host memory only: OnnxGpt does not copy device memory.
    /// </summary>
    /// <param name="rows">The new batch's rows.</param>
    /// <param name="positions">Positions the cache must hold afterwards (at least the longest row's length).</param>
    public void Rebuild(ReadOnlySpan<RowSource> rows, int positions)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_cache.IsHostMemory || _layout.Convention == KvCacheConvention.None)
        {
            throw new NotSupportedException("Only a host-memory KV cache can be rebuilt into a batch.");
        }

        var longest = 0;
        foreach (var row in rows)
        {
            longest = Math.Max(longest, row.Length);
        }

        positions = Math.Max(positions, longest);
        var count = rows.Length;
        var target = _cache;
        var side = 1 - _side;
        if (count > _cache.BatchSize || positions > _cache.Capacity)
        {
            target = _pool.Rent(positions, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(count, 1)));
            side = 0;
        }

        var rowBytes = RowBytes();
        var kinds = _layout.Convention == KvCacheConvention.Combined ? 2 : 1;
        for (var i = 0; i < _cache.TensorCount; i++)
        {
            var destination = (byte*)target.Buffer(i, side);
            for (var j = 0; j < count; j++)
            {
                var row = rows[j];
                var source = row.Session;
                var sourceBase = (byte*)source._cache.Buffer(i, source._side);
                var start = source._pads[row.Row];
                var pad = longest - row.Length;
                for (var k = 0; k < kinds; k++)
                {
                    for (var h = 0; h < _headsDim; h++)
                    {
                        var from = sourceBase + ((((((k * source._rows) + row.Row) * _headsDim) + h) * source._length) + start) * rowBytes;
                        PlaceRow(destination + (((((k * count) + j) * _headsDim) + h) * longest) * rowBytes, from, pad, row.Length, rowBytes);
                    }
                }
            }
        }

        ReleasePast();
        if (target != _cache)
        {
            ReleaseBindings();
            _pool.Return(_cache);
            _cache = target;
            BindFlags();
        }

        if (_pads.Length < target.BatchSize)
        {
            _pads = new int[target.BatchSize];
        }

        for (var j = 0; j < count; j++)
        {
            _pads[j] = longest - rows[j].Length;
        }

        _rows = count;
        _side = side;
        _length = longest;
        RecreatePast();
    }

    /// <summary>
    /// Adds <paramref name="source"/>'s row after this batch's rows, right-aligned to the batch's length (zeroed padding on
    /// its left), copying only that row. False, with nothing changed, where only <see cref="Rebuild"/> can do it: a
    /// combined cache (its value half moves with the row count), no room for another row or the next position, or a row
    /// longer than the batch.
    /// </summary>
    public bool TryAppendRow(RowSource source)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_layout.Convention != KvCacheConvention.SeparateKeyValue || !_cache.IsHostMemory || _rows + 1 > _cache.BatchSize
            || _length + 1 > _cache.Capacity || source.Length > _length || source.Length < 1 || _length == 0 || ReferenceEquals(source.Session, this))
        {
            return false;
        }

        var rowBytes = RowBytes();
        var pad = _length - source.Length;
        var from = source.Session;
        var start = from._pads[source.Row];
        for (var i = 0; i < _cache.TensorCount; i++)
        {
            var destination = (byte*)_cache.Buffer(i, _side);
            var sourceBase = (byte*)from._cache.Buffer(i, from._side);
            for (var h = 0; h < _headsDim; h++)
            {
                PlaceRow(
                    destination + ((((long)_rows * _headsDim) + h) * _length * rowBytes),
                    sourceBase + (((((long)source.Row * _headsDim) + h) * from._length) + start) * rowBytes,
                    pad,
                    source.Length,
                    rowBytes);
            }
        }

        if (_pads.Length <= _rows)
        {
            Array.Resize(ref _pads, _cache.BatchSize);
        }

        _pads[_rows] = pad;
        _rows++;
        RecreatePast();
        return true;
    }

    /// <summary>
    /// Drops <paramref name="row"/>: the last row moves into its place (one row copied), so the caller moves its last row
    /// to that slot too. False, with nothing changed, for a combined or device cache (<see cref="Rebuild"/> then).
    /// </summary>
    public bool TryRemoveRow(int row)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_layout.Convention != KvCacheConvention.SeparateKeyValue || !_cache.IsHostMemory || _rows < 2 || row < 0 || row >= _rows)
        {
            return false;
        }

        var last = _rows - 1;
        if (row != last)
        {
            var bytes = _headsDim * _length * RowBytes();
            for (var i = 0; i < _cache.TensorCount; i++)
            {
                var buffer = (byte*)_cache.Buffer(i, _side);
                Buffer.MemoryCopy(buffer + (last * bytes), buffer + (row * bytes), bytes, bytes);
            }

            _pads[row] = _pads[last];
        }

        _rows--;
        RecreatePast();
        return true;
    }

    /// <summary>Leading positions every row pads (what a <see cref="Rebuild"/> would drop).</summary>
    public int CommonPadding()
    {
        var least = _length;
        for (var r = 0; r < _rows; r++)
        {
            least = Math.Min(least, _pads[r]);
        }

        return _rows == 0 ? 0 : least;
    }

    /// <summary>Writes one head of one row right-aligned: <paramref name="pad"/> zeroed positions, then <paramref name="length"/> copied ones.</summary>
    private static void PlaceRow(byte* to, byte* from, long pad, long length, long rowBytes)
    {
        new Span<byte>(to, (int)(pad * rowBytes)).Clear();
        Buffer.MemoryCopy(from, to + (pad * rowBytes), length * rowBytes, length * rowBytes);
    }

    /// <summary>Bytes of one position of one head.</summary>
    private long RowBytes() => _layout.HeadSize * (_layout.CacheElementType == TensorElementType.Float16 ? 2L : 4L);

    private void RecreatePast()
    {
        ReleasePast();
        for (var i = 0; i < _cache.TensorCount; i++)
        {
            _cache.Past[i] = CreateCacheTensor(i, _side, _length);
        }
    }

    private void BindFlags()
    {
        if (_layout.HasUseCacheBranch)
        {
            var shape = stackalloc long[1] { 1 };
            var flags = (bool*)Pin(_cache.UseCacheFlags);
            _useCacheFalse = CreateTensor(flags, 1, shape, 1, (int)TensorElementType.Bool);
            _useCacheTrue = CreateTensor(flags + 1, 1, shape, 1, (int)TensorElementType.Bool);
        }
    }

    /// <summary>Decode steps produce [rows, 1, vocabulary]: ONNX Runtime writes them into our pinned buffer.</summary>
    private void BindDecodeLogits()
    {
        if (_decodeLogits != IntPtr.Zero)
        {
            _api.ReleaseValue(_decodeLogits);
            _decodeLogits = IntPtr.Zero;
        }

        var shape = stackalloc long[3] { _rows, 1, _vocabulary };
        _decodeLogits = CreateTensor(Pin(_cache.Logits), (nuint)(_rows * _vocabulary * sizeof(float)), shape, 3, (int)TensorElementType.Float);
        _decodeLogitsRows = _rows;
    }

    private void ReleasePast()
    {
        for (var i = 0; i < _cache.TensorCount; i++)
        {
            if (_cache.Past[i] != IntPtr.Zero)
            {
                _api.ReleaseValue(_cache.Past[i]);
                _cache.Past[i] = IntPtr.Zero;
            }
        }
    }

    private void ReleaseBindings()
    {
        foreach (var value in new[] { _decodeLogits, _useCacheFalse, _useCacheTrue })
        {
            if (value != IntPtr.Zero)
            {
                _api.ReleaseValue(value);
            }
        }

        _decodeLogits = _useCacheFalse = _useCacheTrue = IntPtr.Zero;
        _decodeLogitsRows = 0;
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

        // A batched step may have used these buffers as [rows, positions]: one row's positions and mask are rewritten.
        var positions = _cache.Positions;
        for (var i = feedStart; i < total; i++)
        {
            positions[i] = i + _layout.FirstPositionId;
        }

        _cache.Mask.AsSpan(0, total).Fill(1);
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
        if (total > _cache.Capacity || _rows > _cache.BatchSize)
        {
            throw new InvalidOperationException($"The request's buffers hold {_cache.Capacity} positions; position {total - 1} does not fit.");
        }

        var feedStart = total - feedCount;
        var inputs = _cache.Inputs;
        var outputs = _cache.Outputs;
        var cacheCount = _cache.TensorCount;
        var shape = stackalloc long[5];
        var n = 0;

        shape[0] = _rows;
        shape[1] = feedCount;
        inputs[n++] = CreateTensor(ids, (nuint)(_rows * feedCount * sizeof(long)), shape, 2, (int)TensorElementType.Int64);
        if (_layout.HasAttentionMask)
        {
            shape[1] = total;
            inputs[n++] = CreateTensor(mask, (nuint)(_rows * total * sizeof(long)), shape, 2, (int)TensorElementType.Int64);
        }

        if (_layout.HasPositionIds)
        {
            shape[1] = feedCount;
            inputs[n++] = CreateTensor(positions, (nuint)(_rows * feedCount * sizeof(long)), shape, 2, (int)TensorElementType.Int64);
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
        var prefillGraph = firstStep && _model.Runtime.PrefillRunner is not null;
        if (prefillGraph)
        {
            n = firstOwnedInput;
        }

        // A graph with num_logits_to_keep scores only the last position, unless speculation verifies every one.
        var lastOnly = false;
        if (_layout.HasLogitsToKeep && !prefillGraph)
        {
            lastOnly = _verifyLogits is null;
            inputs[n++] = lastOnly ? _model.Runtime.KeepLastLogits : _model.Runtime.KeepAllLogits;
        }

        if (feedCount == 1 && _layout.LogitsElementType == TensorElementType.Float && _decodeLogitsRows != _rows)
        {
            BindDecodeLogits();
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

            _model.Runtime.EnterRun();
            try
            {
                var runner = prefillGraph ? _model.Runtime.PrefillRunner! : _model.Runtime.Runner;
                status = runner.Run(_runOptions, inputs, n, outputs, 1 + cacheCount);
            }
            finally
            {
                _model.Runtime.ExitRun();
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
                if (_layout.HasLogitsToKeep && feedCount > 1)
                {
                    CheckKeptLogits(outputs[0], lastOnly ? 1 : feedCount);
                }

                ReadLastLogits(outputs[0], lastOnly ? 1 : feedCount);
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

        shape[rank++] = _rows;
        shape[rank++] = _headsDim;
        shape[rank++] = positions;
        shape[rank++] = _layout.HeadSize;
        var bytes = _cache.BytesPerPosition * (nuint)_rows * (nuint)positions;
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

    /// <summary>A graph whose <c>num_logits_to_keep</c> means something else must not be read past its logits' end.</summary>
    private void CheckKeptLogits(IntPtr logits, int positions)
    {
        var shape = _api.GetShape(logits);
        if (shape.Length != 3 || shape[0] != _rows || shape[1] != positions || shape[2] != _vocabulary)
        {
            throw new GptException($"'{_model.Info.ModelPath}' returned logits of shape [{string.Join(", ", shape)}] where [{_rows}, {positions}, {_vocabulary}] was expected for {GraphLayout.LogitsToKeepName} = {(positions == 1 ? 1 : 0)}. Remove that input from the graph (onnxgpt optimize adds it with its LogitsToKeep fusion; leave that fusion out).");
        }
    }

    private void ReadLastLogits(IntPtr logits, int sequenceLength)
    {
        void* data;
        OrtNative.Check(_api.GetTensorMutableData(logits, &data), "GetTensorMutableData");
        if (_verifyLogits is { } every)
        {
            ReadEveryLogits(data, sequenceLength, every);
        }

        var target = _cache.Logits.AsSpan();
        for (var r = 0; r < _rows; r++)
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

    // ---- Speculative decoding (Generation/Speculation): several tokens verified in one run. ----

    /// <summary>
    /// Feeds <paramref name="tokens"/> after the positions this one-row cache holds, in one run, and writes the
    /// next-token scores after each of them to <paramref name="logits"/> (row i: the scores after tokens[..i]),
    /// so that drafted tokens are verified at once; <see cref="TryRewind"/> then drops the rejected ones.
    /// </summary>
    public void Verify(ReadOnlySpan<int> tokens, float[] logits)
    {
        if (_rows != 1 || _pads[0] != 0 || _layout.Convention == KvCacheConvention.None || tokens.IsEmpty
            || _length + tokens.Length > _cache.Capacity || logits.Length < tokens.Length * _vocabulary)
        {
            throw new InvalidOperationException($"Verify feeds {tokens.Length} tokens to an unpadded one-row cache of {_length} of {_cache.Capacity} positions.");
        }

        var ids = _cache.Ids;
        for (var i = 0; i < tokens.Length; i++)
        {
            ids[_length + i] = tokens[i];
        }

        _verifyLogits = logits;
        try
        {
            Run(_length, tokens.Length);
        }
        finally
        {
            _verifyLogits = null;
        }

        if (tokens.Length == 1)
        {
            // One token's scores were written straight into Logits.
            _cache.Logits.AsSpan(0, _vocabulary).CopyTo(logits);
        }
    }

    private void ReadEveryLogits(void* data, int sequenceLength, float[] target)
    {
        var count = (long)sequenceLength * _vocabulary;
        if (_layout.LogitsElementType == TensorElementType.Float16)
        {
            TensorPrimitives.ConvertToSingle(new ReadOnlySpan<Half>((Half*)data, (int)count), target.AsSpan(0, (int)count));
        }
        else
        {
            new ReadOnlySpan<float>((float*)data, (int)count).CopyTo(target);
        }
    }

    // ---- End of speculative decoding. ----

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _registration.Dispose();
        ReleasePast();
        ReleaseBindings();
        _runOptions.Dispose();
        _pool.Return(_cache);
    }
}

/// <summary>A row of a session's cache, and how many of its real positions to keep, for <see cref="DecoderSession.Rebuild"/>.</summary>
/// <param name="Session">The session holding the row now.</param>
/// <param name="Row">The row's index in that session.</param>
/// <param name="Length">The positions to keep (its real length, or fewer to roll the row back).</param>
internal readonly record struct RowSource(DecoderSession Session, int Row, int Length);
