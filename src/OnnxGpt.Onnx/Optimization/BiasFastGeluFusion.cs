namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// The fc layer's bias <c>Add</c> feeding a one-input com.microsoft <c>FastGelu</c> -> FastGelu's bias input
/// (onnxruntime's fusion_biasgelu.py for FastGelu). Runs after <see cref="FastGeluFusion"/>.
/// </summary>
internal sealed class BiasFastGeluFusion : IGraphFusion
{
    public string Name => "BiasFastGelu";

    public int Apply(GraphContext graph)
    {
        var fused = 0;
        foreach (var gelu in graph.Nodes)
        {
            if (gelu.Domain != GraphContext.MicrosoftDomain || gelu.OpType != "FastGelu" || gelu.Input.Count != 1)
            {
                continue;
            }

            if (BiasSkipLayerNormFusion.BiasAdd(graph, gelu.Input[0], gelu, size: -1) is var (add, computed, bias))
            {
                gelu.Input[0] = computed;
                gelu.Input.Add(bias);
                graph.Remove(add);
                fused++;
            }
        }

        return fused;
    }
}
