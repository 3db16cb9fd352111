using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// Graph forms of a tied lm_head, <c>MatMul(x, Transpose(W))</c> with <c>W</c> a 2-D float initializer (GPT-2's
/// <c>wte</c>, <c>[vocab, hidden]</c>), that read the weight as it is stored, rows of the hidden size, instead of
/// through the <c>[hidden, vocab]</c> copy ONNX Runtime constant-folds the Transpose into. Each form is one fusion
/// name; none runs unless asked for (<see cref="FusionRegistry.OptIn"/>).
/// </summary>
internal sealed class LmHeadFusion : IGraphFusion
{
    private readonly LmHeadForm _form;

    /// <summary>Creates the fusion for one form.</summary>
    /// <param name="form">The form it rewrites the lm_head into.</param>
    public LmHeadFusion(LmHeadForm form) => _form = form;

    public string Name => _form switch
    {
        LmHeadForm.TransB => "LmHeadTransB",
        LmHeadForm.Unpacked => "LmHeadUnpacked",
        LmHeadForm.Split2 => "LmHeadSplit2",
        LmHeadForm.Split4 => "LmHeadSplit4",
        _ => throw new InvalidOperationException($"Unknown lm_head form {_form}."),
    };

    public int Apply(GraphContext graph)
    {
        var fused = 0;
        foreach (var matMul in graph.Nodes)
        {
            if (!GraphContext.Is(matMul, "MatMul") || graph.Producer(matMul.Input[1]) is not { } transpose
                || !GraphContext.Is(transpose, "Transpose") || graph.Initializer(transpose.Input[0]) is not { } weight
                || weight.Dims.Count != 2 || weight.DataType != (int)TensorProto.Types.DataType.Float
                || !IsSwap(transpose))
            {
                continue;
            }

            var x = matMul.Input[0];
            var output = matMul.Output[0];
            graph.Remove(matMul);
            switch (_form)
            {
                case LmHeadForm.TransB:
                    graph.Add(FusedMatMul(graph, x, weight.Name, output, matMul.Name));
                    break;
                case LmHeadForm.Unpacked:
                    graph.Add(FusedMatMul(graph, x, weight.Name, output, matMul.Name));
                    MakeOverridable(graph, weight);
                    break;
                default:
                    AddSplit(graph, x, weight, output, matMul.Name, _form == LmHeadForm.Split2 ? 2 : 4);
                    break;
            }

            fused++;
        }

        return fused;
    }

    private static bool IsSwap(NodeProto transpose) =>
        transpose.Attribute.FirstOrDefault(a => a.Name == "perm") is not { } perm || perm.Ints is [1, 0];

    private static NodeProto FusedMatMul(GraphContext graph, string x, string weight, string output, string name)
    {
        var node = graph.NewNode("FusedMatMul", GraphContext.MicrosoftDomain, [x, weight], [output], name + "_TransB");
        node.Attribute.Add(GraphContext.Float("alpha", 1f));
        node.Attribute.Add(GraphContext.Int("transA", 0));
        node.Attribute.Add(GraphContext.Int("transB", 1));
        return node;
    }

    /// <summary>
    /// Lists the weight among the graph's inputs as well (an overridable initializer): ONNX Runtime then treats it as
    /// non-constant, so it neither constant-folds nor prepacks it, and MLAS multiplies a single row by the weight as
    /// stored (its M = 1, transposed-B kernel: one dot product over contiguous memory per output).
    /// </summary>
    private static void MakeOverridable(GraphContext graph, TensorProto weight)
    {
        if (graph.IsGraphInput(weight.Name))
        {
            return;
        }

        var shape = new TensorShapeProto();
        foreach (var d in weight.Dims)
        {
            shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        }

        graph.Graph.Input.Add(new ValueInfoProto
        {
            Name = weight.Name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = weight.DataType, Shape = shape } },
        });
        graph.Changed();
    }

    /// <summary>Row blocks of the weight (Slices ONNX Runtime folds into initializers), one FusedMatMul each, Concat.</summary>
    private static void AddSplit(GraphContext graph, string x, TensorProto weight, string output, string name, int blocks)
    {
        var rows = weight.Dims[0];
        var per = (rows + blocks - 1) / blocks;
        var axes = graph.AddInt64Initializer(name + "_axes", [1], [0]);
        var parts = new List<string>();
        for (var b = 0; b < blocks; b++)
        {
            var start = b * per;
            var end = Math.Min(rows, start + per);
            var starts = graph.AddInt64Initializer(name + "_start", [1], [start]);
            var ends = graph.AddInt64Initializer(name + "_end", [1], [end]);
            var slice = graph.FreshName(name + "_rows");
            graph.Add(graph.NewNode("Slice", "", [weight.Name, starts, ends, axes], [slice], name + "_Slice"));
            var part = graph.FreshName(name + "_part");
            graph.Add(FusedMatMul(graph, x, slice, part, name));
            parts.Add(part);
        }

        var concat = graph.NewNode("Concat", "", parts, [output], name + "_Concat");
        concat.Attribute.Add(GraphContext.Int("axis", -1));
        graph.Add(concat);
    }
}
