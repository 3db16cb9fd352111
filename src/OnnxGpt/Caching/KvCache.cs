using Microsoft.ML.OnnxRuntime;
using OnnxGpt.Models;

namespace OnnxGpt.Caching;

/// <summary>
/// One request's cache: the <c>present</c> tensors ONNX Runtime returned at the last step, fed back as the next
/// step's <c>past</c> as they are (native memory, never copied through managed arrays). Before the first step it
/// holds an empty tensor of the graph's cache element type.
/// </summary>
internal sealed class KvCache : IDisposable
{
    private readonly OrtValue? _empty;
    private IDisposableReadOnlyCollection<OrtValue>? _outputs;
    private IReadOnlyList<OrtValue>? _outputList;

    public KvCache(GraphLayout layout)
    {
        if (layout.PastNames.Length > 0)
        {
            // A zero-length tensor holds no data, so one serves every layer's key and value.
            _empty = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, layout.CacheElementType, layout.EmptyPastShape());
        }
    }

    /// <summary>Whether any step has filled the cache.</summary>
    public bool IsFilled => _outputs is not null;

    /// <summary>The tensor to feed as the <paramref name="index"/>-th cache input.</summary>
    public OrtValue Past(int index) => _outputList is null ? _empty! : _outputList[1 + index];

    /// <summary>Takes a step's outputs (logits first, then the cache) as the new cache, releasing the previous step's.</summary>
    public void Advance(IDisposableReadOnlyCollection<OrtValue> outputs)
    {
        _outputs?.Dispose();
        _outputs = outputs;
        _outputList = outputs as IReadOnlyList<OrtValue> ?? [.. outputs];
    }

    public void Dispose()
    {
        _outputs?.Dispose();
        _outputs = null;
        _outputList = null;
        _empty?.Dispose();
    }
}
