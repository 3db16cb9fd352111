using System.Collections.Concurrent;
using LLama;
using LLama.Common;
using LLama.Native;
using OnnxGpt.Onnx.Gguf;

namespace OnnxGpt.Bench;

/// <summary>
/// llama.cpp through LLamaSharp on a GGUF written from the same ONNX weights (<see cref="GgufCache"/>): one context
/// sized to the model's context length, and per request the cache cleared, the prompt decoded in one batch (logits
/// for its last token only), then one token per decode, each chosen by argmax over the logits (greedy, first maximum).
/// </summary>
internal sealed class LlamaSharpLoop : IGenerationLoop
{
    /// <summary>The implementation's name in reports, before the GGUF type.</summary>
    public const string DisplayName = "LLamaSharp";

    private static readonly ConcurrentQueue<string> RecentLog = new();
    private static readonly Lazy<bool> Configured = new(() =>
    {
        // llama.cpp logs every load to stderr; keep its last lines to explain a failure instead.
        NativeLibraryConfig.All.WithLogCallback((level, message) =>
        {
            if (level >= LLamaLogLevel.Warning)
            {
                RecentLog.Enqueue($"{level}: {message.Trim()}");
                while (RecentLog.Count > 8 && RecentLog.TryDequeue(out _))
                {
                }
            }
        });
        return true;
    });

    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly int _vocabulary;
    private readonly LLamaBatch _batch = new();

    public LlamaSharpLoop(string ggufPath, GgmlType type, int contextLength, int? threads)
    {
        _ = Configured.Value;
        Name = $"{DisplayName} {type}";
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextLength,
            BatchSize = (uint)contextLength,
            UBatchSize = (uint)contextLength,
            GpuLayerCount = 0,
            Threads = threads is > 0 ? threads : null,
            BatchThreads = threads is > 0 ? threads : null,
        };
        try
        {
            _weights = LLamaWeights.LoadFromFile(parameters);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"LLamaSharp could not load '{ggufPath}': {ex.Message.Trim()}{LogTail()}", ex);
        }

        try
        {
            _context = _weights.CreateContext(parameters);
        }
        catch
        {
            _weights.Dispose();
            throw;
        }

        _vocabulary = _weights.Vocab.Count;
    }

    public string Name { get; }

    public ValueTask GenerateAsync(int[] prompt, int newTokens, TokenRecorder recorder, CancellationToken cancellationToken)
    {
        var handle = _context.NativeHandle;
        handle.MemoryClear(true);
        _batch.Clear();
        for (var i = 0; i < prompt.Length; i++)
        {
            _batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        }

        var position = prompt.Length;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = handle.Decode(_batch);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"llama_decode returned {result} at position {position}.{LogTail()}");
            }

            var next = ArgMax(handle.GetLogitsIth(_batch.TokenCount - 1)[.._vocabulary]);
            if (!recorder.OnToken(next))
            {
                break;
            }

            _batch.Clear();
            _batch.Add(next, position++, LLamaSeqId.Zero, true);
        }

        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }

    private static int ArgMax(ReadOnlySpan<float> logits)
    {
        var best = 0;
        var bestValue = logits[0];
        for (var i = 1; i < logits.Length; i++)
        {
            if (logits[i] > bestValue)
            {
                bestValue = logits[i];
                best = i;
            }
        }

        return best;
    }

    private static string LogTail() => RecentLog.IsEmpty ? string.Empty : " llama.cpp said: " + string.Join(" | ", RecentLog);
}
