using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// GPT-2's tanh GELU, <c>0.5 * x * (1 + tanh(0.7978845608 * (x + 0.044715 * x^3)))</c>, in any arrangement of its
/// products (x^3 as <c>Pow(x, 3)</c> or as two Muls, the 0.5 on x or on the product) -> com.microsoft <c>FastGelu</c>
/// (onnxruntime's fusion_fastgelu.py). ONNX Runtime's own FastGeluFusion knows two arrangements only
/// (<c>Pow(x, 3) * 0.044715</c>, and <c>x * x * 0.044715 + 1</c>), not the <c>x * 0.044715 * x * x</c> that
/// transformers' NewGELUActivation exports as.
/// </summary>
internal sealed class FastGeluFusion : IGraphFusion
{
    private const float Tolerance = 1e-4f;
    private readonly bool _cubeAsPowOnly;

    /// <summary>Creates the fusion.</summary>
    /// <param name="cubeAsPowOnly">
    /// False: fuse into FastGelu. True (the <c>GeluCubeAsPow</c> rewrite): only rewrite x^3 as <c>Pow(x, 3)</c>, the
    /// arrangement ONNX Runtime's FastGeluFusion knows, so that ONNX Runtime fuses the GELU itself at load.
    /// </param>
    public FastGeluFusion(bool cubeAsPowOnly = false) => _cubeAsPowOnly = cubeAsPowOnly;

    public string Name => _cubeAsPowOnly ? "GeluCubeAsPow" : "FastGelu";

    public int Apply(GraphContext graph)
    {
        var fused = 0;
        foreach (var tanh in graph.Nodes)
        {
            if (GraphContext.Is(tanh, "Tanh") && Match(graph, tanh) is { } match)
            {
                if (_cubeAsPowOnly)
                {
                    if (match.CubeNodes is [{ OpType: "Mul" }, { OpType: "Pow" }])
                    {
                        continue; // Already Pow(x, 3) * c.
                    }

                    var three = graph.AddInitializer(tanh.Name + "_three", [], [3f]);
                    var c = graph.AddInitializer(tanh.Name + "_c", [], [0.044715f]);
                    var cubed = graph.FreshName(tanh.Name + "_cube");
                    graph.Remove(match.CubeNodes);
                    graph.Add(graph.NewNode("Pow", "", [match.X, three], [cubed], tanh.Name + "_Pow"));
                    graph.Add(graph.NewNode("Mul", "", [cubed, c], [match.CubeOutput], tanh.Name + "_MulCube"));
                    fused++;
                    continue;
                }

                var gelu = graph.NewNode("FastGelu", GraphContext.MicrosoftDomain, [match.X], [match.Output], tanh.Name + "_FastGelu");
                graph.Remove(match.Nodes);
                graph.Add(gelu);
                fused++;
            }
        }

        return fused;
    }

    private sealed record GeluMatch(string X, string Output, List<NodeProto> Nodes, List<NodeProto> CubeNodes, string CubeOutput);

    private static GeluMatch? Match(GraphContext graph, NodeProto tanh)
    {
        // tanh(c1 * inner), inner = x + c2 * x^3.
        var nodes = new List<NodeProto> { tanh };
        var scaled = graph.Producer(tanh.Input[0]);
        if (!GraphContext.Is(scaled, "Mul") || !graph.OnlyConsumer(tanh.Input[0], tanh)
            || Product(graph, scaled!, nodes) is not { } outer || !TakeConstant(graph, outer, 0.7978845608f)
            || outer is not [var innerValue] || graph.Producer(innerValue) is not { } inner
            || !GraphContext.Is(inner, "Add") || !graph.OnlyConsumer(innerValue, scaled!))
        {
            return null;
        }

        nodes.Add(inner);
        string? x = null;
        var cubeNodes = new List<NodeProto>();
        var cubeOutput = "";
        for (var i = 0; i < 2 && x is null; i++)
        {
            var candidate = inner.Input[i];
            var cubeValue = inner.Input[1 - i];
            cubeNodes.Clear();
            if (graph.Producer(cubeValue) is { } cube && GraphContext.Is(cube, "Mul") && graph.OnlyConsumer(cubeValue, inner)
                && Product(graph, cube, cubeNodes, candidate) is { } leaves && TakeConstant(graph, leaves, 0.044715f)
                && leaves.Count == 3 && leaves.All(l => l == candidate))
            {
                x = candidate;
                cubeOutput = cubeValue;
                nodes.AddRange(cubeNodes);
            }
        }

        if (x is null)
        {
            return null;
        }

        // 0.5 * x * (1 + tanh(...)).
        if (graph.Consumers(tanh.Output[0]) is not [var plusOne] || graph.IsGraphOutput(tanh.Output[0]) || !GraphContext.Is(plusOne, "Add")
            || plusOne.Input.Count != 2 || !graph.TryReadScalar(plusOne.Input[plusOne.Input[0] == tanh.Output[0] ? 1 : 0], out var one) || Math.Abs(one - 1) > Tolerance)
        {
            return null;
        }

        nodes.Add(plusOne);
        var onePlus = plusOne.Output[0];
        if (graph.Consumers(onePlus) is not [var first] || graph.IsGraphOutput(onePlus) || !GraphContext.Is(first, "Mul"))
        {
            return null;
        }

        // The product's root is the first Mul or, when 0.5 or x is multiplied in afterwards, its only reader.
        var roots = new List<NodeProto>();
        if (graph.Consumers(first.Output[0]) is [var next] && !graph.IsGraphOutput(first.Output[0]) && GraphContext.Is(next, "Mul"))
        {
            roots.Add(next);
        }

        roots.Add(first);
        foreach (var root in roots)
        {
            var productNodes = new List<NodeProto>();
            if (Product(graph, root, productNodes, x, onePlus) is { } factors && TakeConstant(graph, factors, 0.5f)
                && factors.Count == 2 && factors.Contains(x) && factors.Contains(onePlus))
            {
                nodes.AddRange(productNodes);
                return new GeluMatch(x, root.Output[0], nodes, cubeNodes, cubeOutput);
            }
        }

        return null;
    }

    /// <summary>
    /// The factors of the product <paramref name="root"/> computes: Mul inputs, expanded through Muls only they read
    /// (and <c>Pow(v, 3)</c> as v three times), stopping at <paramref name="stops"/>. The Muls and Pows are added to <paramref name="nodes"/>.
    /// </summary>
    private static List<string>? Product(GraphContext graph, NodeProto root, List<NodeProto> nodes, params string[] stops)
    {
        var factors = new List<string>();
        nodes.Add(root);
        foreach (var input in root.Input)
        {
            var producer = stops.Contains(input) ? null : graph.Producer(input);
            if (GraphContext.Is(producer, "Mul") && graph.OnlyConsumer(input, root))
            {
                if (Product(graph, producer!, nodes, stops) is not { } inner)
                {
                    return null;
                }

                factors.AddRange(inner);
            }
            else if (GraphContext.Is(producer, "Pow") && graph.OnlyConsumer(input, root) && graph.TryReadScalar(producer!.Input[1], out var exponent) && exponent == 3)
            {
                nodes.Add(producer);
                factors.AddRange([producer.Input[0], producer.Input[0], producer.Input[0]]);
            }
            else
            {
                factors.Add(input);
            }
        }

        return factors;
    }

    /// <summary>Removes the one constant factor from <paramref name="factors"/> when it is <paramref name="expected"/> (and it is the only constant).</summary>
    private static bool TakeConstant(GraphContext graph, List<string> factors, float expected)
    {
        var constants = factors.Where(f => graph.ConstantShape(f) is not null).ToList();
        if (constants is not [var constant] || !graph.TryReadScalar(constant, out var value) || Math.Abs(value - expected) > Tolerance * Math.Abs(expected))
        {
            return false;
        }

        factors.Remove(constant);
        return true;
    }
}
