using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxGpt.Onnx.Tests.Optimization;

/// <summary>The inputs of the embedded tiny-shakespeare graph (4 layers, 8 heads of 32, separate key/value caches), built the one way every graph test feeds it.</summary>
internal static class TinyShakespeareFeeds
{
    public const int Layers = 4;
    public const int Heads = 8;
    public const int HeadSize = 32;

    /// <summary>An empty cache for <paramref name="batch"/> rows: key then value per layer.</summary>
    public static DenseTensor<float>[] EmptyCache(int batch = 1) =>
        [.. Enumerable.Range(0, 2 * Layers).Select(_ => new DenseTensor<float>([batch, Heads, 0, HeadSize]))];

    /// <summary>
    /// <c>input_ids</c> [batch, sequence], <c>attention_mask</c> [batch, past + sequence], <c>position_ids</c> and
    /// the past (key then value per layer); every mask position 1 and positions counting on from the past unless given.
    /// </summary>
    public static List<NamedOnnxValue> Create(long[] ids, int batch, IReadOnlyList<DenseTensor<float>> past, long[]? mask = null, long[]? positions = null)
    {
        var sequence = ids.Length / batch;
        var pastLength = past[0].Dimensions[2];
        mask ??= Enumerable.Repeat(1L, batch * (pastLength + sequence)).ToArray();
        positions ??= [.. Enumerable.Range(0, batch).SelectMany(_ => Enumerable.Range(pastLength, sequence).Select(i => (long)i))];
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [batch, sequence])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, [batch, pastLength + sequence])),
            NamedOnnxValue.CreateFromTensor("position_ids", new DenseTensor<long>(positions, [batch, sequence])),
        };
        for (var layer = 0; layer < Layers; layer++)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor($"past_key_values.{layer}.key", past[2 * layer]));
            inputs.Add(NamedOnnxValue.CreateFromTensor($"past_key_values.{layer}.value", past[(2 * layer) + 1]));
        }

        return inputs;
    }
}
