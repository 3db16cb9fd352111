using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxGpt.Bench;

/// <summary>
/// The same loop written as tightly as ONNX Runtime's C# API allows: ids, positions and the mask live in pinned
/// buffers allocated once per request; the cache lives in two native buffers per past tensor, sized for the whole
/// request, and each step has ONNX Runtime write <c>present</c> straight into one while it reads <c>past</c> from the
/// other (so presents become the next pasts without a copy or an allocation); decode steps write their logits into a
/// pinned [1, 1, vocabulary] buffer, and the argmax runs over it as a span. One <c>Run</c> call per step with
/// preallocated outputs. This is the floor for a .NET loop's overhead over the graph itself.
/// </summary>
internal sealed unsafe class OrtTightLoop : IGenerationLoop
{
    public const string DisplayName = "ORT tight";

    private readonly InferenceSession _session;
    private readonly OrtGraph _graph;
    private readonly IReadOnlyList<int> _eos;
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly RunOptions _runOptions = new();
    private readonly int _firstPast;

    public OrtTightLoop(ModelFolder folder, int? threads, IReadOnlyDictionary<string, string>? sessionConfig = null)
    {
        using var options = OrtGraph.CreateSessionOptions(threads, sessionConfig);
        _session = new InferenceSession(folder.GraphPath, options);
        _graph = OrtGraph.Read(_session, folder);
        _eos = folder.EosTokenIds;
        var names = new List<string> { OrtGraph.InputIds };
        if (_graph.HasAttentionMask)
        {
            names.Add(OrtGraph.AttentionMask);
        }

        if (_graph.HasPositionIds)
        {
            names.Add(OrtGraph.PositionIds);
        }

        _firstPast = names.Count;
        names.AddRange(_graph.PastNames);
        _inputNames = [.. names];
        _outputNames = [OrtGraph.Logits, .. _graph.PresentNames];
    }

    public string Name => DisplayName;

    public ValueTask GenerateAsync(int[] prompt, int newTokens, TokenRecorder recorder, CancellationToken cancellationToken)
    {
        using var request = new Request(_graph, prompt, prompt.Length + newTokens);
        var memory = OrtMemoryInfo.DefaultInstance;
        var layers = _graph.PastNames.Length;
        var inputs = new OrtValue[_inputNames.Length];
        var outputs = new OrtValue[_outputNames.Length];
        var pasts = new OrtValue?[layers];
        var shape2 = new long[2];
        var vocabulary = _graph.VocabularySize;
        var side = 0;
        try
        {
            var start = 0;
            var length = prompt.Length;
            for (var produced = 0; produced < newTokens; produced++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var total = start + length;
                shape2[0] = 1;
                shape2[1] = length;
                using var ids = OrtValue.CreateTensorValueWithData(memory, TensorElementType.Int64, shape2, (nint)(request.Ids + start), length * sizeof(long));
                using var positions = _graph.HasPositionIds ? OrtValue.CreateTensorValueWithData(memory, TensorElementType.Int64, shape2, (nint)(request.Positions + start), length * sizeof(long)) : null;
                shape2[1] = total;
                using var mask = _graph.HasAttentionMask ? OrtValue.CreateTensorValueWithData(memory, TensorElementType.Int64, shape2, (nint)request.Mask, total * sizeof(long)) : null;
                var n = 0;
                inputs[n++] = ids;
                if (mask is not null)
                {
                    inputs[n++] = mask;
                }

                if (positions is not null)
                {
                    inputs[n++] = positions;
                }

                for (var i = 0; i < layers; i++)
                {
                    pasts[i] ??= request.Cache(i, side, 0);
                    inputs[_firstPast + i] = pasts[i]!;
                }

                // Prefill logits are [1, prompt, vocabulary]: a buffer for that run only. Decode steps reuse one row.
                using var prefillLogits = length == 1 ? null : OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, [1, length, vocabulary]);
                outputs[0] = prefillLogits ?? request.DecodeLogits;
                for (var i = 0; i < layers; i++)
                {
                    outputs[1 + i] = request.Cache(i, 1 - side, total);
                }

                try
                {
                    _session.Run(_runOptions, _inputNames, inputs, _outputNames, outputs);
                }
                catch
                {
                    for (var i = 0; i < layers; i++)
                    {
                        outputs[1 + i].Dispose();
                    }

                    throw;
                }

                for (var i = 0; i < layers; i++)
                {
                    pasts[i]!.Dispose();
                    pasts[i] = outputs[1 + i];
                }

                side = 1 - side;
                var logits = outputs[0].GetTensorDataAsSpan<float>().Slice((length - 1) * vocabulary, vocabulary);
                var best = ArgMax(logits);
                if (!recorder.OnToken(best) || _eos.Contains(best))
                {
                    break;
                }

                request.Ids[total] = best;
                start = total;
                length = 1;
            }
        }
        finally
        {
            foreach (var past in pasts)
            {
                past?.Dispose();
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>The first index of the highest score.</summary>
    private static int ArgMax(ReadOnlySpan<float> scores)
    {
        var best = 0;
        var max = float.NegativeInfinity;
        for (var i = 0; i < scores.Length; i++)
        {
            if (scores[i] > max)
            {
                max = scores[i];
                best = i;
            }
        }

        return best;
    }

    public void Dispose()
    {
        _runOptions.Dispose();
        _session.Dispose();
    }

    /// <summary>One request's native buffers: ids, positions, mask, two cache buffers per past tensor, and the decode logits.</summary>
    private sealed class Request : IDisposable
    {
        private readonly OrtGraph _graph;
        private readonly void*[,] _cache;
        private readonly float* _logits;

        public Request(OrtGraph graph, int[] prompt, int capacity)
        {
            _graph = graph;
            Ids = (long*)NativeMemory.Alloc((nuint)capacity, sizeof(long));
            Positions = (long*)NativeMemory.Alloc((nuint)capacity, sizeof(long));
            Mask = (long*)NativeMemory.Alloc((nuint)capacity, sizeof(long));
            for (var i = 0; i < capacity; i++)
            {
                Ids[i] = i < prompt.Length ? prompt[i] : 0;
                Positions[i] = i;
                Mask[i] = 1;
            }

            var layers = graph.PastNames.Length;
            _cache = new void*[layers, 2];
            for (var i = 0; i < layers; i++)
            {
                var bytes = (nuint)(graph.EmptyPastShapes[i][1] * graph.EmptyPastShapes[i][3] * capacity * sizeof(float));
                _cache[i, 0] = NativeMemory.AlignedAlloc(bytes, 64);
                _cache[i, 1] = NativeMemory.AlignedAlloc(bytes, 64);
            }

            _logits = (float*)NativeMemory.AlignedAlloc((nuint)(graph.VocabularySize * sizeof(float)), 64);
            DecodeLogits = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, [1, 1, graph.VocabularySize], (nint)_logits, graph.VocabularySize * sizeof(float));
        }

        public long* Ids { get; }

        public long* Positions { get; }

        public long* Mask { get; }

        public OrtValue DecodeLogits { get; }

        /// <summary>Past tensor <paramref name="tensor"/> of <paramref name="positions"/> positions over buffer <paramref name="side"/>: [1, kv_heads, positions, head_size] is its buffer's first part.</summary>
        public OrtValue Cache(int tensor, int side, int positions)
        {
            var empty = _graph.EmptyPastShapes[tensor];
            long[] shape = [1, empty[1], positions, empty[3]];
            return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, shape, (nint)_cache[tensor, side], empty[1] * positions * empty[3] * sizeof(float));
        }

        public void Dispose()
        {
            DecodeLogits.Dispose();
            NativeMemory.AlignedFree(_logits);
            for (var i = 0; i < _cache.GetLength(0); i++)
            {
                NativeMemory.AlignedFree(_cache[i, 0]);
                NativeMemory.AlignedFree(_cache[i, 1]);
            }

            NativeMemory.Free(Ids);
            NativeMemory.Free(Positions);
            NativeMemory.Free(Mask);
        }
    }
}
