using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Onnx.Optimization;
using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Tests.Optimization;

/// <summary>A small hand-built float32 graph (inputs [batch, seq, hidden]) that fusion tests rewrite and run in ONNX Runtime.</summary>
internal sealed class TestGraph
{
    private int _constants;

    public TestGraph(int hidden = 8)
    {
        Hidden = hidden;
        Model = new ModelProto { IrVersion = 8, ProducerName = "test", Graph = new GraphProto { Name = "test" } };
        Model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
    }

    public int Hidden { get; }

    public ModelProto Model { get; }

    public GraphProto Graph => Model.Graph;

    public string Input(string name, long? lastDim = null)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "sequence" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = lastDim ?? Hidden });
        Graph.Input.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } } });
        return name;
    }

    public void Output(string name) =>
        Graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });

    /// <summary>A scalar float <c>Constant</c> node's output.</summary>
    public string Constant(float value)
    {
        var name = "c" + _constants++;
        var tensor = new TensorProto { DataType = 1, RawData = ByteString.CopyFrom(BitConverter.GetBytes(value)) };
        Node("Constant", [], [name]).Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = tensor });
        return name;
    }

    /// <summary>A float initializer with deterministic values.</summary>
    public string Initializer(string name, params long[] dims)
    {
        var count = (int)dims.Aggregate(1L, (a, d) => a * d);
        var values = Enumerable.Range(0, count).Select(i => (float)Math.Sin(i + name.Length) * 0.5f + (name.StartsWith('g') ? 1f : 0f)).ToArray();
        var tensor = new TensorProto { Name = name, DataType = 1, RawData = ByteString.CopyFrom(values.SelectMany(BitConverter.GetBytes).ToArray()) };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return name;
    }

    public NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = op + "_" + Graph.Node.Count };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return node;
    }

    /// <summary>Applies <paramref name="fusions"/> in order to a copy, returning the copy and each fusion's count.</summary>
    public (ModelProto Model, int[] Counts) Fuse(params IGraphFusion[] fusions)
    {
        var copy = Model.Clone();
        var context = new GraphContext(copy, AppContext.BaseDirectory);
        var counts = fusions.Select(f => f.Apply(context)).ToArray();
        context.Finish();
        return (copy, counts);
    }

    /// <summary>Runs <paramref name="model"/> on deterministic [2, 3, hidden] inputs; every output, flattened.</summary>
    public static Dictionary<string, float[]> Run(ModelProto model)
    {
        using var session = new InferenceSession(model.ToByteArray());
        var inputs = new List<NamedOnnxValue>();
        var seed = 1;
        foreach (var input in model.Graph.Input)
        {
            var last = (int)input.Type.TensorType.Shape.Dim[2].DimValue;
            var tensor = new DenseTensor<float>([2, 3, last]);
            for (var i = 0; i < tensor.Length; i++)
            {
                tensor.SetValue(i, (float)Math.Cos((i * 0.37) + seed));
            }

            seed++;
            inputs.Add(NamedOnnxValue.CreateFromTensor(input.Name, tensor));
        }

        using var results = session.Run(inputs);
        return results.ToDictionary(r => r.Name, r => r.AsEnumerable<float>().ToArray());
    }

    public static string Signature(NodeProto node) =>
        $"{(node.Domain.Length > 0 ? node.Domain + ":" : "")}{node.OpType}({string.Join(",", node.Input)})->({string.Join(",", node.Output)})";
}
