using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using OnnxGpt.Caching;
using OnnxGpt.Models;
using OnnxGpt.Native;
using OnnxGpt.Providers;

namespace OnnxGpt.Generation;

/// <summary>
/// What a loaded <see cref="GptModel"/> runs on: its ONNX Runtime sessions (and the split layout's prefill graph),
/// their native handles and names, the graph layout, the request cache pool, the kept conversations and the
/// continuous-batching scheduler. <see cref="GptModel"/> is the public facade over it. Disposing it while runs are in
/// progress defers the native release to the last run's end.
/// </summary>
internal sealed unsafe class ModelRuntime
{
    private readonly Lock _gate = new();

    // num_logits_to_keep's two values, 1 then 0, on the pinned object heap; the tensors over them are only read.
    private readonly long[] _logitsToKeep = GC.AllocateArray<long>(2, pinned: true);
    private readonly GptModel _model;
    private int _activeRuns;
    private bool _disposed;
    private GenerationScheduler? _scheduler;

    public ModelRuntime(GptModel model, InferenceSession session, GraphLayout layout, InferenceSession? prefillSession, CacheMemory cacheMemory, ILogger logger, bool nativeRun = true)
    {
        _model = model;
        Logger = logger;
        PrefillSession = prefillSession;
        if (prefillSession is not null)
        {
            PrefillRunner = new SessionRunner(prefillSession, layout.InputNames[..layout.FirstPastInput], layout.OutputNames, nativeRun);
        }

        Session = session;
        Layout = layout;
        Runner = new SessionRunner(session, layout.InputNames, layout.OutputNames, nativeRun);
        if (layout.HasLogitsToKeep)
        {
            _logitsToKeep[0] = 1;
            KeepLastLogits = KeepTensor(0, layout.LogitsToKeepRank);
            KeepAllLogits = KeepTensor(1, layout.LogitsToKeepRank);
        }

        Conversations = new ConversationStore<DecoderSession>(model.Options.MaxKeptConversations);
        CachePool = new KvCachePool(layout, model.Info.ContextLength, model.Info.VocabularySize, idlePerCapacity: IdleCachesPerCapacity(model.Options), cacheMemory);
    }

    public InferenceSession Session { get; }

    /// <summary>The model's logger, for what the generation loop's decoder reports.</summary>
    public ILogger Logger { get; }

    public GraphLayout Layout { get; }

    /// <summary>Runs <see cref="Session"/> for the per-token loop, with the inputs and outputs in <see cref="GraphLayout"/>'s order.</summary>
    public SessionRunner Runner { get; }

    /// <summary>
    /// The first-step graph of Optimum's split layout (<c>decoder_model.onnx</c>: no past inputs), which runs the
    /// prompt; later steps run <see cref="Session"/> (<c>decoder_with_past_model.onnx</c>). Null for single graphs.
    /// </summary>
    public InferenceSession? PrefillSession { get; }

    /// <summary>Runs <see cref="PrefillSession"/>, which takes no cache inputs and gives the logits and the cache.</summary>
    public SessionRunner? PrefillRunner { get; }

    /// <summary><c>num_logits_to_keep</c> = 1 (only the last position's logits), when the graph takes it; else zero.</summary>
    public IntPtr KeepLastLogits { get; }

    /// <summary><c>num_logits_to_keep</c> = 0 (every position's logits), when the graph takes it; else zero.</summary>
    public IntPtr KeepAllLogits { get; }

    /// <summary>The caches of recent conversations, for prefix reuse.</summary>
    public ConversationStore<DecoderSession> Conversations { get; }

    /// <summary>Request buffers and caches kept for reuse.</summary>
    public KvCachePool CachePool { get; private set; }

    /// <summary>
    /// Whether concurrent requests run in one batch (<see cref="GptOptions.EnableBatching"/>): a graph with a KV cache
    /// in host memory, which OnnxGpt copies when rows join and leave.
    /// </summary>
    public bool Batches => _model.Options.EnableBatching && Layout.Convention != KvCacheConvention.None && CachePool.Memory.IsHost;

    /// <summary>The continuous-batching loop of this model's requests, started by the first one.</summary>
    public GenerationScheduler Scheduler
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, _model);
                return _scheduler ??= new GenerationScheduler(_model, _model.Options.MaxBatchSize);
            }
        }
    }

    /// <summary>The cache memory for a session on <paramref name="provider"/>: the device's on CUDA (host when ONNX Runtime cannot give it, with a warning).</summary>
    public static CacheMemory CreateCacheMemory(InferenceSession session, string provider, GptOptions options, Func<InferenceSession, CacheMemory>? deviceCacheMemory, ILogger logger, string modelPath)
    {
        if (deviceCacheMemory is null && provider != ExecutionProviderOptions.Cuda)
        {
            return CacheMemory.Host();
        }

        try
        {
            if (deviceCacheMemory is not null)
            {
                return deviceCacheMemory(session);
            }

            var entry = options.ExecutionProviders.First(p => ExecutionProviderOptions.Normalize(p.Name) == ExecutionProviderOptions.Cuda);
            return CacheMemory.Cuda(session, entry.DeviceId);
        }
        catch (OnnxRuntimeException ex)
        {
            Log.DeviceCacheUnavailable(logger, modelPath, provider, ex.Message.Trim());
            return CacheMemory.Host();
        }
    }

    /// <summary>Marks a session run as started; throws if the model is disposed.</summary>
    public void EnterRun()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, _model);
            _activeRuns++;
        }
    }

    /// <summary>Marks a session run as finished, releasing the sessions if the model was disposed meanwhile.</summary>
    public void ExitRun()
    {
        bool release;
        lock (_gate)
        {
            release = --_activeRuns == 0 && _disposed;
        }

        if (release)
        {
            ReleaseNative();
        }
    }

    /// <summary>
    /// Runs two positions through a device-resident cache once, at load: where this ONNX Runtime build or driver will
    /// not take device-bound cache tensors, the cache moves to host memory with a warning (ONNX Runtime then copies
    /// it every step) instead of every request failing.
    /// </summary>
    public void VerifyDeviceCache(ILogger logger)
    {
        if (CachePool.Memory.IsHost || Layout.Convention == KvCacheConvention.None)
        {
            return;
        }

        var info = _model.Info;
        var token = info.BosTokenId ?? 0;
        try
        {
            using var decoder = new DecoderSession(_model, 2, CancellationToken.None);
            decoder.Prefill([token]);
            decoder.Step(token);
        }
        catch (Exception ex) when (ex is GptException or OnnxRuntimeException)
        {
            Log.DeviceCacheUnavailable(logger, info.ModelPath, _model.ExecutionProvider, ex.Message.Trim());
            UseHostCache();
        }
    }

    /// <summary>
    /// The load-time check of the C API path: runs a first position and one step through the C API and again through
    /// the managed API (same session, same inputs) and compares the logits. The per-token loop calls the C API on the
    /// session's native handle, read by reflection, so that a decode step allocates nothing on the managed heap; where
    /// that handle is missing (another Microsoft.ML.OnnxRuntime.Managed build), the C API run fails or the two runs differ, the loop runs
    /// through the managed API from then on, with a warning. Caches in device memory run the C API alone (the managed
    /// view reads host memory): without the handle the cache moves to host memory.
    /// </summary>
    public void VerifyNativeRun(ILogger logger)
    {
        var info = _model.Info;
        if (!Runner.HasNativeHandle || PrefillRunner is { HasNativeHandle: false })
        {
            UseManagedRuns();
            Log.NativeRunUnavailable(logger, info.ModelPath, "ONNX Runtime's managed InferenceSession has no native handle field this build can read");
            if (!CachePool.Memory.IsHost)
            {
                UseHostCache();
            }

            return;
        }

        if (!Runner.IsNative || !CachePool.Memory.IsHost)
        {
            return;
        }

        var token = info.BosTokenId ?? 0;
        float[] native;
        try
        {
            native = Probe(token);
        }
        catch (GptException ex)
        {
            // The managed run below then fails the same way if the graph itself cannot run.
            Log.NativeRunUnavailable(logger, info.ModelPath, $"a run through the C API failed: {ex.Message}");
            native = [];
        }

        UseManagedRuns();
        var managed = Probe(token);
        CachePool.FreeIdle();
        if (native.Length == 0)
        {
            return;
        }
        var difference = 0f;
        for (var i = 0; i < native.Length; i++)
        {
            difference = MathF.Max(difference, MathF.Abs(native[i] - managed[i]) / (1f + MathF.Abs(managed[i])));
        }

        if (float.IsNaN(difference) || difference > 1e-3f)
        {
            Log.NativeRunUnavailable(logger, info.ModelPath, $"a run through the C API differs from the managed run by {difference:G3} (relative)");
            return;
        }

        Runner.UseNative();
        PrefillRunner?.UseNative();
    }

    private float[] Probe(int token)
    {
        using var decoder = new DecoderSession(_model, 2, CancellationToken.None);
        decoder.Prefill([token]);
        float[] first = [.. decoder.Logits];
        decoder.Step(token);
        return [.. first, .. decoder.Logits];
    }

    private void UseManagedRuns()
    {
        Runner.UseManaged();
        PrefillRunner?.UseManaged();
    }

    private void UseHostCache()
    {
        var info = _model.Info;
        var device = CachePool;
        CachePool = new KvCachePool(Layout, info.ContextLength, info.VocabularySize, IdleCachesPerCapacity(_model.Options), CacheMemory.Host());
        device.Dispose();
    }

    /// <summary>Ends the scheduler's rows and the kept conversations; the sessions go now, or when the last run in progress ends.</summary>
    public void Dispose()
    {
        Conversations.Dispose();
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _scheduler?.Dispose();
            if (_activeRuns > 0)
            {
                // The last running step releases the session (see ExitRun).
                return;
            }
        }

        ReleaseNative();
    }

    /// <summary>
    /// As many idle caches per size as requests can run at once, so a steady load reuses its caches instead of
    /// freeing and allocating megabytes per request (which fragments the native heap and grows the working set).
    /// </summary>
    private static int IdleCachesPerCapacity(GptOptions options) => options.MaxConcurrentRequests ?? Math.Max(16, Environment.ProcessorCount * 2);

    private IntPtr KeepTensor(int index, int rank)
    {
        var shape = stackalloc long[1] { 1 };
        IntPtr value;
        fixed (long* data = &_logitsToKeep[index])
        {
            OrtNative.Check(OrtNative.Functions.CreateTensorWithData(OrtMemoryInfo.DefaultInstance.DangerousGetHandle(), data, sizeof(long), shape, (nuint)rank, (int)Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Int64, &value), "CreateTensorWithDataAsOrtValue");
        }

        return value;
    }

    private void ReleaseNative()
    {
        foreach (var keep in new[] { KeepLastLogits, KeepAllLogits })
        {
            if (keep != IntPtr.Zero)
            {
                OrtNative.Functions.ReleaseValue(keep);
            }
        }

        Session.Dispose();
        PrefillSession?.Dispose();
        Runner.Dispose();
        PrefillRunner?.Dispose();
        CachePool.Dispose();
    }
}
