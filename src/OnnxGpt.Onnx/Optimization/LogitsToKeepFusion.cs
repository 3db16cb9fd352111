using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// Gives the graph a <c>num_logits_to_keep</c> input (Hugging Face's name for it): the lm_head then scores only the
/// last that many positions of the hidden states (a <c>Slice</c> before it), so that a prompt's run computes one
/// position's logits instead of every position's. The lm_head is a large share of a small model's work per
/// position (gpt2-124m: 38.6M of its 124M weights), all of it wasted for the prompt's earlier positions. The input
/// is an overridable initializer holding 0, which keeps every position: a runtime that does not feed it (ONNX
/// Runtime, transformers.js, onnxruntime-genai) gets the graph's old outputs.
/// </summary>
/// <remarks>
/// Matches the MatMul that produces <c>logits</c> (through per-position operators after it: Cast, Identity, and Add, Mul, Div
/// or Sub with a constant, and Tanh) with a constant weight; the lm_head forms of <see cref="LmHeadFusion"/> (a
/// FusedMatMul, or a Concat of them over one input) as well. A graph whose logits come out of a subgraph (Optimum's
/// merged layout) or through a reshape, or that imports an ONNX opset before 10 (Slice with attributes), is left as it is.
/// </remarks>
internal sealed class LogitsToKeepFusion : IGraphFusion
{
    /// <summary>The input's name.</summary>
    public const string InputName = "num_logits_to_keep";

    private const string LogitsName = "logits";

    public string Name => "LogitsToKeep";

    public int Apply(GraphContext graph)
    {
        // Slice takes its starts as an input from opset 10 on.
        if (!graph.IsGraphOutput(LogitsName) || graph.IsGraphInput(InputName) || graph.Initializer(InputName) is not null
            || graph.OpsetVersion("") < 10)
        {
            return 0;
        }

        var output = graph.Graph.Output.First(o => o.Name == LogitsName);
        if (output.Type?.TensorType?.Shape is not { Dim.Count: 3 } shape)
        {
            return 0;
        }

        var value = LogitsName;
        var node = graph.Producer(value);
        while (node is not null && IsPerPosition(graph, node, out var through))
        {
            value = through;
            node = graph.Producer(value);
        }

        List<NodeProto> heads;
        if (IsHead(graph, node))
        {
            heads = [node!];
        }
        else if (GraphContext.Is(node, "Concat") && node!.Input.Select(graph.Producer).ToList() is var parts
            && parts.All(p => IsHead(graph, p)) && parts.Select(p => p!.Input[0]).Distinct().Count() == 1)
        {
            heads = [.. parts.Select(p => p!)];
        }
        else
        {
            return 0;
        }

        var hidden = heads[0].Input[0];
        var keep = AddInput(graph);
        var negated = graph.FreshName("logits_to_keep_neg");
        graph.Add(graph.NewNode("Neg", "", [keep], [negated], "LogitsToKeep_Neg"));
        var starts = graph.FreshName("logits_to_keep_start");
        graph.Add(graph.NewNode("Reshape", "", [negated, graph.AddInt64Initializer("logits_to_keep_shape", [1], [1])], [starts], "LogitsToKeep_Reshape"));
        var last = graph.FreshName("logits_to_keep_hidden");
        graph.Add(graph.NewNode(
            "Slice",
            "",
            [hidden, starts, graph.AddInt64Initializer("logits_to_keep_end", [1], [long.MaxValue]), graph.AddInt64Initializer("logits_to_keep_axis", [1], [1])],
            [last],
            "LogitsToKeep_Slice"));
        foreach (var head in heads)
        {
            head.Input[0] = last;
        }

        // The logits no longer have the input's sequence length.
        shape.Dim[1] = new TensorShapeProto.Types.Dimension { DimParam = "logits_sequence_length" };
        graph.Changed();
        return 1;
    }

    /// <summary>An operator that maps each position's values on their own, and the input it reads them from.</summary>
    private static bool IsPerPosition(GraphContext graph, NodeProto node, out string through)
    {
        through = "";
        if (node.Input.Count == 1 && node.OpType is "Cast" or "Tanh" or "Identity" && node.Domain.Length == 0)
        {
            through = node.Input[0];
            return true;
        }

        if (node.OpType is not ("Add" or "Mul" or "Div" or "Sub") || node.Domain.Length > 0 || node.Input.Count != 2)
        {
            return false;
        }

        var constant = IsConstant(graph, node.Input[1]) ? 0 : IsConstant(graph, node.Input[0]) ? 1 : -1;
        if (constant < 0)
        {
            return false;
        }

        through = node.Input[constant];
        return true;
    }

    /// <summary>A MatMul (or com.microsoft FusedMatMul, MatMulNBits) of the hidden states by a constant weight.</summary>
    private static bool IsHead(GraphContext graph, NodeProto? node) =>
        node is not null && node.Input.Count >= 2 && IsConstant(graph, node.Input[1])
        && (GraphContext.Is(node, "MatMul") && node.Domain.Length == 0
            || node.Domain == GraphContext.MicrosoftDomain && node.OpType is "FusedMatMul" or "MatMulNBits");

    /// <summary>An initializer, or a value computed from initializers only (a Transpose or Slice of the tied embedding).</summary>
    private static bool IsConstant(GraphContext graph, string value, int depth = 0)
    {
        if (graph.Initializer(value) is not null)
        {
            // Overridable ones too (LmHeadUnpacked lists the weight among the inputs).
            return true;
        }

        if (graph.IsGraphInput(value) || depth > 4 || graph.Producer(value) is not { } producer)
        {
            return false;
        }

        return GraphContext.Is(producer, "Constant")
            || producer.Input.Count > 0 && producer.Input.All(i => i.Length == 0 || IsConstant(graph, i, depth + 1));
    }

    /// <summary>Adds <see cref="InputName"/>: a scalar int64 graph input whose initializer, 0, keeps every position.</summary>
    private static string AddInput(GraphContext graph)
    {
        var tensor = new TensorProto { Name = InputName, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Int64Data.Add(0);
        graph.Graph.Initializer.Add(tensor);
        graph.Graph.Input.Add(new ValueInfoProto
        {
            Name = InputName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Int64, Shape = new TensorShapeProto() } },
        });
        graph.Changed();
        return InputName;
    }
}
