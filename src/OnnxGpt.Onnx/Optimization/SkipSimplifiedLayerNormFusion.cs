using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// Llama's RMSNorm, <c>x * (1 / sqrt(mean(x^2) + eps)) * weight</c> (x^2 as <c>Pow(x, 2)</c> or <c>x * x</c>; the
/// reciprocal as <c>Div(1, s)</c>, <c>Reciprocal(s)</c>, or <c>Div(x, s)</c>), after a residual <c>Add</c> ->
/// com.microsoft <c>SkipSimplifiedLayerNormalization</c> (the sum, read by the next residual, as its fourth output);
/// without a residual Add before it -> <c>SimplifiedLayerNormalization</c>, which ONNX Runtime also fuses by itself at
/// load (its SimplifiedLayerNormFusion), unlike the skip form.
/// </summary>
internal sealed class SkipSimplifiedLayerNormFusion : IGraphFusion
{
    public string Name => "SkipSimplifiedLayerNormalization";

    public int Apply(GraphContext graph)
    {
        var fused = 0;
        foreach (var mean in graph.Nodes)
        {
            if (!GraphContext.Is(mean, "ReduceMean") || Match(graph, mean) is not { } match)
            {
                continue;
            }

            var add = SkipLayerNormFusion.ResidualAdd(graph, match.X);
            graph.Remove(match.Nodes);
            NodeProto norm;
            if (add is not null && graph.Consumers(match.X).All(c => c != add))
            {
                var others = graph.IsGraphOutput(match.X) || graph.Consumers(match.X).Count > 0;
                norm = graph.NewNode("SkipSimplifiedLayerNormalization", GraphContext.MicrosoftDomain, [add.Input[0], add.Input[1], match.Weight],
                    others ? [match.Output, "", "", match.X] : [match.Output], match.Output + "_SkipSimplified");
                graph.Remove(add);
            }
            else
            {
                norm = graph.NewNode("SimplifiedLayerNormalization", "", [match.X, match.Weight], [match.Output], match.Output + "_Simplified");
                norm.Attribute.Add(GraphContext.Int("axis", -1));
            }

            norm.Attribute.Add(GraphContext.Float("epsilon", match.Epsilon));
            graph.Add(norm);
            fused++;
        }

        return fused;
    }

    private sealed record RmsMatch(string X, string Weight, string Output, float Epsilon, List<NodeProto> Nodes);

    private static RmsMatch? Match(GraphContext graph, NodeProto mean)
    {
        if (GraphContext.IntAttribute(mean, "keepdims", 1) != 1 || !LastAxis(graph, mean))
        {
            return null;
        }

        // mean(x^2).
        var square = graph.Producer(mean.Input[0]);
        string x;
        if (GraphContext.Is(square, "Pow") && graph.TryReadScalar(square!.Input[1], out var exponent) && exponent == 2)
        {
            x = square.Input[0];
        }
        else if (GraphContext.Is(square, "Mul") && square!.Input.Count == 2 && square.Input[0] == square.Input[1])
        {
            x = square.Input[0];
        }
        else
        {
            return null;
        }

        if (!graph.OnlyConsumer(mean.Input[0], mean) || graph.Consumers(mean.Output[0]) is not [var plusEps] || graph.IsGraphOutput(mean.Output[0])
            || !GraphContext.Is(plusEps, "Add") || !graph.TryReadScalar(plusEps.Input[plusEps.Input[0] == mean.Output[0] ? 1 : 0], out var epsilon)
            || graph.Consumers(plusEps.Output[0]) is not [var sqrt] || graph.IsGraphOutput(plusEps.Output[0]) || !GraphContext.Is(sqrt, "Sqrt")
            || graph.Consumers(sqrt.Output[0]) is not [var reciprocal] || graph.IsGraphOutput(sqrt.Output[0]))
        {
            return null;
        }

        var nodes = new List<NodeProto> { square, mean, plusEps, sqrt, reciprocal };
        string normalized;
        if (GraphContext.Is(reciprocal, "Div") && reciprocal.Input[1] == sqrt.Output[0] && reciprocal.Input[0] == x)
        {
            normalized = reciprocal.Output[0];
        }
        else if ((GraphContext.Is(reciprocal, "Div") && reciprocal.Input[1] == sqrt.Output[0] && graph.TryReadScalar(reciprocal.Input[0], out var one) && one == 1)
            || GraphContext.Is(reciprocal, "Reciprocal"))
        {
            if (graph.Consumers(reciprocal.Output[0]) is not [var scale] || graph.IsGraphOutput(reciprocal.Output[0]) || !GraphContext.Is(scale, "Mul")
                || scale.Input.Count != 2 || !scale.Input.Contains(x) || !scale.Input.Contains(reciprocal.Output[0]))
            {
                return null;
            }

            nodes.Add(scale);
            normalized = scale.Output[0];
        }
        else
        {
            return null;
        }

        if (graph.Consumers(normalized) is not [var weighting] || graph.IsGraphOutput(normalized) || !GraphContext.Is(weighting, "Mul") || weighting.Input.Count != 2)
        {
            return null;
        }

        var weight = weighting.Input[weighting.Input[0] == normalized ? 1 : 0];
        if (graph.ConstantShape(weight) is not [_])
        {
            return null;
        }

        nodes.Add(weighting);
        return new RmsMatch(x, weight, weighting.Output[0], epsilon, nodes);
    }

    private static bool LastAxis(GraphContext graph, NodeProto mean)
    {
        if (mean.Attribute.FirstOrDefault(a => a.Name == "axes") is { } axes)
        {
            return axes.Ints is [-1];
        }

        return mean.Input.Count == 2 && graph.TryReadInts(mean.Input[1], out var values) && values is [-1];
    }
}
