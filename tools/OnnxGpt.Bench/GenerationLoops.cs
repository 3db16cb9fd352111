using OnnxGpt.Providers;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Generation;
using OnnxGpt.Models;

namespace OnnxGpt.Bench;

/// <summary>One implementation under test, loaded once and run several times. Greedy, stopping after the asked tokens or at end-of-sequence.</summary>
internal interface IGenerationLoop : IDisposable
{
    string Name { get; }

    /// <summary>Generates up to <paramref name="newTokens"/> tokens after <paramref name="prompt"/>, reporting each to <paramref name="recorder"/>.</summary>
    ValueTask GenerateAsync(int[] prompt, int newTokens, TokenRecorder recorder, CancellationToken cancellationToken);
}

/// <summary>OnnxGpt through its public API, as an application would call it.</summary>
internal sealed class OnnxGptLoop : IGenerationLoop
{
    public const string DisplayName = "OnnxGpt";

    public const string ManagedDisplayName = "OnnxGpt (managed run)";

    public const string NoBatchingDisplayName = "OnnxGpt (batching off)";

    public const string AsStoredDisplayName = "OnnxGpt (graph as stored)";

    private readonly GptModel _model;
    private readonly GptGenerator _generator;

    public OnnxGptLoop(ModelFolder folder, int? threads, string? provider = null, IReadOnlyDictionary<string, string>? sessionConfig = null, bool managedRun = false, bool batching = true, bool optimizeGraph = true)
    {
        var options = new GptOptions { ModelPath = folder.Directory, Variant = folder.Variant, IntraOpNumThreads = threads, RequireExecutionProvider = provider is not null, EnableBatching = batching, OptimizeGraph = optimizeGraph };
        if (provider is not null || sessionConfig is { Count: > 0 })
        {
            var entry = new OnnxGpt.Providers.ExecutionProviderOptions(provider ?? OnnxGpt.Providers.ExecutionProviderOptions.Cpu);
            foreach (var (key, value) in sessionConfig ?? new Dictionary<string, string>())
            {
                entry.SessionConfigEntries[key] = value;
            }

            options.ExecutionProviders.Add(entry);
        }

        _model = GptModel.Load(options, null, deviceCacheMemory: null, nativeRun: !managedRun);
        _generator = GptGenerator.Create(_model);
        var name = managedRun ? ManagedDisplayName : !batching ? NoBatchingDisplayName : optimizeGraph ? DisplayName : AsStoredDisplayName;
        Name = provider is null ? name : $"{name} ({_model.ExecutionProvider})";
    }

    public string Name { get; }

    public async ValueTask GenerateAsync(int[] prompt, int newTokens, TokenRecorder recorder, CancellationToken cancellationToken)
    {
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = newTokens, RepetitionPenalty = 1f };
        await foreach (var token in _generator.StreamAsync(prompt, options, cancellationToken))
        {
            recorder.OnToken(token.Id);
        }
    }

    public void Dispose() => _model.Dispose();
}

/// <summary>Input and output names of a graph with the <c>past_key_values.{i}.key/value</c> → <c>present.{i}.key/value</c> convention.</summary>
internal sealed class OrtGraph
{
    public const string InputIds = "input_ids";
    public const string AttentionMask = "attention_mask";
    public const string PositionIds = "position_ids";
    public const string Logits = "logits";
    private const string PastPrefix = "past_key_values.";
    private const string PresentPrefix = "present.";

    private OrtGraph(string[] pastNames, string[] presentNames, long[][] emptyPastShapes, bool hasMask, bool hasPositions, int vocabulary)
    {
        PastNames = pastNames;
        PresentNames = presentNames;
        EmptyPastShapes = emptyPastShapes;
        HasAttentionMask = hasMask;
        HasPositionIds = hasPositions;
        VocabularySize = vocabulary;
    }

    public string[] PastNames { get; }

    public string[] PresentNames { get; }

    /// <summary>[1, kv_heads, 0, head_size] for each past input.</summary>
    public long[][] EmptyPastShapes { get; }

    public bool HasAttentionMask { get; }

    public bool HasPositionIds { get; }

    public int VocabularySize { get; }

    public static OrtGraph Read(InferenceSession session, ModelFolder folder)
    {
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        Require(inputs, InputIds, TensorElementType.Int64);
        var hasMask = inputs.ContainsKey(AttentionMask);
        var hasPositions = inputs.ContainsKey(PositionIds);
        if (hasMask)
        {
            Require(inputs, AttentionMask, TensorElementType.Int64);
        }

        if (hasPositions)
        {
            Require(inputs, PositionIds, TensorElementType.Int64);
        }

        Require(outputs, Logits, TensorElementType.Float);
        var pasts = session.InputNames.Where(n => n.StartsWith(PastPrefix, StringComparison.Ordinal)).ToArray();
        var presents = new string[pasts.Length];
        var shapes = new long[pasts.Length][];
        for (var i = 0; i < pasts.Length; i++)
        {
            var meta = Require(inputs, pasts[i], TensorElementType.Float);
            var dims = meta.Dimensions;
            if (dims.Length != 4 || dims[1] <= 0 || dims[3] <= 0)
            {
                throw new NotSupportedException($"{folder.GraphPath}: past input '{pasts[i]}' has shape [{string.Join(", ", dims)}]; expected [batch, kv_heads, past, head_size] with fixed heads and head size.");
            }

            shapes[i] = [1, dims[1], 0, dims[3]];
            presents[i] = PresentPrefix + pasts[i][PastPrefix.Length..];
            if (!outputs.ContainsKey(presents[i]))
            {
                throw new NotSupportedException($"{folder.GraphPath}: past input '{pasts[i]}' has no matching output '{presents[i]}'.");
            }
        }

        if (pasts.Length == 0)
        {
            throw new NotSupportedException($"{folder.GraphPath} has no past_key_values.* inputs; the ONNX Runtime loops need a graph with a KV cache.");
        }

        var logitsDims = outputs[Logits].Dimensions;
        var vocabulary = logitsDims.Length == 3 && logitsDims[2] > 0 ? logitsDims[2] : folder.VocabularySize;
        return new OrtGraph(pasts, presents, shapes, hasMask, hasPositions, vocabulary);
    }

    /// <summary>A pseudo-key of <see cref="CreateSessionOptions"/>'s entries: <c>SessionOptions.EnableMemoryPattern</c> (0 or 1).</summary>
    public const string MemoryPatternKey = "memory_pattern";

    /// <summary>A pseudo-key: <c>SessionOptions.EnableCpuMemArena</c> (0 or 1).</summary>
    public const string CpuMemArenaKey = "cpu_mem_arena";

    /// <summary>A pseudo-key: the intra-op threads (overrides the benchmark's).</summary>
    public const string ThreadsKey = "threads";

    /// <summary>A pseudo-key: ONNX Runtime's profiler on, writing PREFIX_date.json (per-node times of every run of the session).</summary>
    public const string ProfileKey = "profile";

    /// <summary>
    /// The session options of the ONNX Runtime loops: OnnxGpt's thread choice for <paramref name="threads"/>, then
    /// <paramref name="sessionConfig"/>: session config entries, except the pseudo-keys <see cref="MemoryPatternKey"/>,
    /// <see cref="CpuMemArenaKey"/>, <see cref="ThreadsKey"/> and <see cref="ProfileKey"/>, which set the options of those names.
    /// </summary>
    public static SessionOptions CreateSessionOptions(int? threads, IReadOnlyDictionary<string, string>? sessionConfig = null)
    {
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (sessionConfig is not null && sessionConfig.TryGetValue(ThreadsKey, out var threadsText))
        {
            threads = int.Parse(threadsText, System.Globalization.CultureInfo.InvariantCulture);
        }

        // The same choice OnnxGpt makes (threads, spinning, dynamic blocks), so the tight loop is measured at OnnxGpt's best settings.
        var threading = CpuThreading.Choose(threads, null, CpuThreading.CoresAvailable);
        if (threading.IntraOpThreads > 0)
        {
            options.IntraOpNumThreads = threading.IntraOpThreads;
        }

        foreach (var (key, value) in threading.SessionConfigEntries())
        {
            options.AddSessionConfigEntry(key, value);
        }

        foreach (var (key, value) in sessionConfig ?? new Dictionary<string, string>())
        {
            switch (key)
            {
                case MemoryPatternKey:
                    options.EnableMemoryPattern = value != "0";
                    break;
                case CpuMemArenaKey:
                    options.EnableCpuMemArena = value != "0";
                    break;
                case ThreadsKey:
                    break;
                case ProfileKey:
                    // The prefix first: EnableProfiling starts the profiler with the prefix it finds.
                    options.ProfileOutputPathPrefix = value;
                    options.EnableProfiling = true;
                    break;
                default:
                    options.AddSessionConfigEntry(key, value);
                    break;
            }
        }

        return options;
    }

    private static NodeMetadata Require(IReadOnlyDictionary<string, NodeMetadata> metadata, string name, TensorElementType type)
    {
        if (!metadata.TryGetValue(name, out var meta))
        {
            throw new NotSupportedException($"The graph has no '{name}'; the ONNX Runtime loops support input_ids, attention_mask, position_ids and past_key_values.* → logits, present.*.");
        }

        if (meta.ElementDataType != type)
        {
            throw new NotSupportedException($"The graph's '{name}' is {meta.ElementDataType}; the ONNX Runtime loops support {type} only.");
        }

        return meta;
    }
}
