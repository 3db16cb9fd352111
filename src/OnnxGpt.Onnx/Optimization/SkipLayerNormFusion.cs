using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// Residual <c>Add</c> + <c>LayerNormalization</c> -> com.microsoft <c>SkipLayerNormalization</c> (onnxruntime's
/// fusion_skiplayernorm.py). Where the sum also feeds the next residual (every pre-norm transformer block), the fused
/// node's optional fourth output (<c>input_skip_bias_sum</c>) takes its name, which ONNX Runtime's own
/// SkipLayerNormFusion does not do (it requires the Add to have one reader, and 3-D inputs of known equal dimensions).
/// </summary>
internal sealed class SkipLayerNormFusion : IGraphFusion
{
    public string Name => "SkipLayerNormalization";

    public int Apply(GraphContext graph)
    {
        var fused = 0;
        foreach (var norm in graph.Nodes)
        {
            if (!GraphContext.Is(norm, "LayerNormalization") || GraphContext.IntAttribute(norm, "axis", -1) != -1
                || norm.Input.Count < 2 || norm.Output.Skip(1).Any(o => o.Length > 0)
                || graph.ConstantShape(norm.Input[1]) is not [_]
                || (norm.Input.Count > 2 && norm.Input[2].Length > 0 && graph.ConstantShape(norm.Input[2]) is not [_]))
            {
                continue;
            }

            if (ResidualAdd(graph, norm.Input[0]) is not { } add)
            {
                continue;
            }

            var sum = add.Output[0];
            var others = graph.IsGraphOutput(sum) || graph.Consumers(sum).Any(c => c != norm);
            var beta = norm.Input.Count > 2 ? norm.Input[2] : "";
            var inputs = beta.Length > 0 ? new[] { add.Input[0], add.Input[1], norm.Input[1], beta } : [add.Input[0], add.Input[1], norm.Input[1]];
            var outputs = others ? new[] { norm.Output[0], "", "", sum } : [norm.Output[0]];
            var skip = graph.NewNode("SkipLayerNormalization", GraphContext.MicrosoftDomain, inputs, outputs, norm.Name + "_Skip");
            skip.Attribute.Add(GraphContext.Float("epsilon", GraphContext.FloatAttribute(norm, "epsilon", 1e-5f)));
            graph.Remove(norm, add);
            graph.Add(skip);
            fused++;
        }

        return fused;
    }

    /// <summary>The <c>Add</c> producing <paramref name="value"/> when it adds two computed tensors (a residual, not a bias).</summary>
    internal static NodeProto? ResidualAdd(GraphContext graph, string value)
    {
        var add = graph.Producer(value);
        if (!GraphContext.Is(add, "Add") || add!.Input.Count != 2 || add.Input[0] == add.Input[1]
            || graph.ConstantShape(add.Input[0]) is not null || graph.ConstantShape(add.Input[1]) is not null)
        {
            return null;
        }

        return add;
    }
}
