using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// A bias <c>Add</c> (a computed tensor plus a constant 1-D vector of the hidden size, such as a projection's bias)
/// feeding a <c>SkipLayerNormalization</c> or <c>SkipSimplifiedLayerNormalization</c> without a bias -> the fused
/// node's bias input (onnxruntime's fusion_bias_add / SkipLayerNorm "Format 1/2"). Runs after the skip fusions.
/// </summary>
internal sealed class BiasSkipLayerNormFusion : IGraphFusion
{
    public string Name => "BiasSkipLayerNormalization";

    public int Apply(GraphContext graph)
    {
        var fused = 0;
        foreach (var node in graph.Nodes)
        {
            var simplified = node.OpType == "SkipSimplifiedLayerNormalization";
            if (node.Domain != GraphContext.MicrosoftDomain || (node.OpType != "SkipLayerNormalization" && !simplified))
            {
                continue;
            }

            // SkipLayerNormalization(input, skip, gamma, beta, bias); SkipSimplifiedLayerNormalization(input, skip, gamma, bias).
            var biasSlot = simplified ? 3 : 4;
            if (node.Input.Count > biasSlot || graph.ConstantShape(node.Input[2]) is not [var hidden])
            {
                continue;
            }

            foreach (var slot in new[] { 1, 0 })
            {
                if (BiasAdd(graph, node.Input[slot], node, hidden) is not var (add, computed, bias))
                {
                    continue;
                }

                node.Input[slot] = computed;
                while (node.Input.Count < biasSlot)
                {
                    node.Input.Add("");
                }

                node.Input.Add(bias);
                graph.Remove(add);
                fused++;
                break;
            }
        }

        return fused;
    }

    /// <summary>
    /// The <c>Add</c> producing <paramref name="value"/> when it adds a constant 1-D vector of <paramref name="size"/>
    /// to a computed tensor and only <paramref name="reader"/> reads it: the Add, the computed input and the bias.
    /// </summary>
    internal static (NodeProto Add, string Computed, string Bias)? BiasAdd(GraphContext graph, string value, NodeProto reader, long size)
    {
        var add = graph.Producer(value);
        if (!GraphContext.Is(add, "Add") || add!.Input.Count != 2 || !graph.OnlyConsumer(value, reader))
        {
            return null;
        }

        for (var i = 0; i < 2; i++)
        {
            if (graph.ConstantShape(add.Input[i]) is [var n] && n > 1 && (size < 0 || n == size) && graph.ConstantShape(add.Input[1 - i]) is null
                && (ProducedWidth(graph, add.Input[1 - i]) ?? n) == n)
            {
                return (add, add.Input[1 - i], add.Input[i]);
            }
        }

        return null;
    }

    /// <summary>The last dimension of a (quantized) MatMul's output when its weight is constant, else null.</summary>
    private static long? ProducedWidth(GraphContext graph, string value)
    {
        var producer = graph.Producer(value);
        if (GraphContext.Is(producer, "MatMul") && graph.ConstantShape(producer!.Input[1]) is [_, var n])
        {
            return n;
        }

        if (producer is { OpType: "MatMulNBits", Domain: GraphContext.MicrosoftDomain })
        {
            return GraphContext.IntAttribute(producer, "N", -1);
        }

        return null;
    }
}
