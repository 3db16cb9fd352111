using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Caching;
using OnnxGpt.Models;

namespace OnnxGpt.Generation;

/// <summary>
/// Runs one request's forward passes: the prompt in one run, then one token per run through the cache.
/// Token ids, positions and the attention mask live in managed arrays sized once for the request and are
/// fed to ONNX Runtime pinned, without copies; only the last position's logits are read back.
/// </summary>
internal sealed class DecoderSession : IDisposable
{
    private static readonly OrtMemoryInfo Cpu = OrtMemoryInfo.DefaultInstance;
    private static readonly long[] ScalarShape = [1];

    private readonly GptModel _model;
    private readonly GraphLayout _layout;
    private readonly long[] _ids;
    private readonly long[] _positions;
    private readonly long[] _mask;
    private readonly OrtValue[] _inputs;
    private readonly KvCache _cache;
    private readonly float[] _logits;
    private readonly RunOptions _runOptions = new();
    private readonly OrtValue? _useCacheFalse;
    private readonly OrtValue? _useCacheTrue;
    private readonly CancellationToken _cancellationToken;
    private readonly CancellationTokenRegistration _registration;
    private int _length;

    public DecoderSession(GptModel model, int capacity, CancellationToken cancellationToken)
    {
        _model = model;
        _layout = model.Layout;
        _ids = new long[capacity];
        _positions = new long[capacity];
        _mask = new long[capacity];
        for (var i = 0; i < capacity; i++)
        {
            _positions[i] = i;
            _mask[i] = 1;
        }

        _inputs = new OrtValue[_layout.InputNames.Length];
        _cache = new KvCache(_layout);
        _logits = new float[model.Info.VocabularySize];
        if (_layout.HasUseCacheBranch)
        {
            _useCacheFalse = OrtValue.CreateTensorValueFromMemory(new bool[1], ScalarShape);
            _useCacheTrue = OrtValue.CreateTensorValueFromMemory(Enumerable.Repeat(true, 1).ToArray(), ScalarShape);
        }

        _cancellationToken = cancellationToken;

        // Cancelling stops a long prompt's run inside ONNX Runtime, not just between tokens.
        _registration = cancellationToken.Register(static state => ((RunOptions)state!).Terminate = true, _runOptions);
    }

    /// <summary>The scores of the next token after the last run; the sampler rewrites them in place.</summary>
    public float[] Logits => _logits;

    /// <summary>Number of positions processed so far.</summary>
    public int Length => _length;

    /// <summary>Runs the whole prompt at once; leaves the scores of the token after it in <see cref="Logits"/>.</summary>
    public void Prefill(IReadOnlyList<int> promptIds)
    {
        for (var i = 0; i < promptIds.Count; i++)
        {
            _ids[i] = promptIds[i];
        }

        Run(0, promptIds.Count);
    }

    /// <summary>Feeds one token; leaves the scores of the token after it in <see cref="Logits"/>.</summary>
    public void Step(int tokenId)
    {
        _ids[_length] = tokenId;
        Run(_length, 1);
    }

    private void Run(int start, int count)
    {
        var total = start + count;

        // Without a cache the whole sequence is fed again at every step.
        var feedStart = _layout.Convention == KvCacheConvention.None ? 0 : start;
        var feedCount = total - feedStart;

        var ids = OrtValue.CreateTensorValueFromMemory(Cpu, _ids.AsMemory(feedStart, feedCount), [1, feedCount]);
        OrtValue? mask = null;
        OrtValue? positions = null;
        IDisposableReadOnlyCollection<OrtValue>? outputs = null;
        try
        {
            var n = 0;
            _inputs[n++] = ids;
            if (_layout.HasAttentionMask)
            {
                mask = OrtValue.CreateTensorValueFromMemory(Cpu, _mask.AsMemory(0, total), [1, total]);
                _inputs[n++] = mask;
            }

            if (_layout.HasPositionIds)
            {
                positions = OrtValue.CreateTensorValueFromMemory(Cpu, _positions.AsMemory(feedStart, feedCount), [1, feedCount]);
                _inputs[n++] = positions;
            }

            for (var i = 0; i < _layout.PastNames.Length; i++)
            {
                _inputs[n++] = _cache.Past(i);
            }

            if (_layout.HasUseCacheBranch)
            {
                _inputs[n++] = _cache.IsFilled ? _useCacheTrue! : _useCacheFalse!;
            }

            _model.EnterRun();
            try
            {
                outputs = _model.Session.Run(_runOptions, _layout.InputNames, _inputs, _layout.OutputNames);
            }
            catch (OnnxRuntimeException) when (_cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(_cancellationToken);
            }
            catch (OnnxRuntimeException ex)
            {
                throw new GptException($"ONNX Runtime failed while processing positions {feedStart}..{total - 1} of '{_model.Info.ModelPath}': {ex.Message.Trim()}", ex);
            }
            finally
            {
                _model.ExitRun();
            }

            ReadLastLogits(FirstOutput(outputs), feedCount);
            if (_layout.PastNames.Length > 0)
            {
                _cache.Advance(outputs);
                outputs = null;
            }

            _length = total;
        }
        finally
        {
            outputs?.Dispose();
            ids.Dispose();
            mask?.Dispose();
            positions?.Dispose();
            Array.Clear(_inputs);
        }
    }

    private static OrtValue FirstOutput(IDisposableReadOnlyCollection<OrtValue> outputs)
    {
        using var e = outputs.GetEnumerator();
        e.MoveNext();
        return e.Current;
    }

    private void ReadLastLogits(OrtValue logits, int sequenceLength)
    {
        var vocabulary = _logits.Length;
        var offset = (sequenceLength - 1) * vocabulary;
        if (_layout.LogitsElementType == TensorElementType.Float16)
        {
            var halves = MemoryMarshal.Cast<Float16, Half>(logits.GetTensorDataAsSpan<Float16>().Slice(offset, vocabulary));
            for (var i = 0; i < vocabulary; i++)
            {
                _logits[i] = (float)halves[i];
            }
        }
        else
        {
            logits.GetTensorDataAsSpan<float>().Slice(offset, vocabulary).CopyTo(_logits);
        }
    }

    public void Dispose()
    {
        _registration.Dispose();
        _cache.Dispose();
        _runOptions.Dispose();
        _useCacheFalse?.Dispose();
        _useCacheTrue?.Dispose();
    }
}
