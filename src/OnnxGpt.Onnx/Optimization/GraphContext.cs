using System.Globalization;
using System.Runtime.InteropServices;
using Google.Protobuf;
using OnnxGpt.Onnx.Protos;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// A graph being rewritten by <see cref="IGraphFusion"/>s: producer and consumer maps (rebuilt after each change),
/// initializer and constant lookup, node removal and insertion, and fresh names. Nodes added go at the end of the node
/// list; <see cref="Finish"/> drops what nothing reads and restores topological order.
/// </summary>
internal sealed class GraphContext
{
    /// <summary>The operator domain of ONNX Runtime's contrib operators.</summary>
    public const string MicrosoftDomain = "com.microsoft";

    private readonly ModelProto _model;
    private readonly string _graphFolder;
    private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, NodeProto> _producers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _graphOutputs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _graphInputs = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<NodeProto> _deadAtStart;
    private readonly HashSet<TensorProto> _unusedAtStart;
    private bool _stale = true;
    private int _nextName;

    /// <summary>Wraps <paramref name="model"/>'s graph.</summary>
    /// <param name="model">The model; its graph is changed in place.</param>
    /// <param name="graphFolder">The folder external data paths are relative to.</param>
    public GraphContext(ModelProto model, string graphFolder)
    {
        _model = model;
        _graphFolder = graphFolder;
        Graph = model.Graph ?? throw new OptimizationException("The model holds no graph.");
        var used = Used();
        _deadAtStart = new HashSet<NodeProto>(Graph.Node.Where(n => IsDead(n, used)), ReferenceEqualityComparer.Instance);
        _unusedAtStart = new HashSet<TensorProto>(Graph.Initializer.Where(t => !used.Contains(t.Name)), ReferenceEqualityComparer.Instance);
    }

    /// <summary>The graph.</summary>
    public GraphProto Graph { get; }

    /// <summary>The nodes, in the graph's current order (a snapshot: safe to change the graph while iterating).</summary>
    public IReadOnlyList<NodeProto> Nodes => [.. Graph.Node];

    /// <summary>The node whose output <paramref name="value"/> is, or null (a graph input, an initializer, or nothing).</summary>
    public NodeProto? Producer(string value)
    {
        Refresh();
        return _producers.GetValueOrDefault(value);
    }

    /// <summary>The nodes that read <paramref name="value"/> (a node reading it twice appears once).</summary>
    public IReadOnlyList<NodeProto> Consumers(string value)
    {
        Refresh();
        return _consumers.TryGetValue(value, out var list) ? list : [];
    }

    /// <summary>Whether <paramref name="value"/> is one of the graph's outputs.</summary>
    public bool IsGraphOutput(string value)
    {
        Refresh();
        return _graphOutputs.Contains(value);
    }

    /// <summary>Whether <paramref name="value"/> is one of the graph's inputs.</summary>
    public bool IsGraphInput(string value)
    {
        Refresh();
        return _graphInputs.Contains(value);
    }

    /// <summary>Whether <paramref name="consumer"/> is the only reader of <paramref name="value"/> and the value is no graph output (so fusing may hide it).</summary>
    public bool OnlyConsumer(string value, NodeProto consumer) =>
        !IsGraphOutput(value) && Consumers(value) is [var only] && only == consumer;

    /// <summary>The initializer named <paramref name="value"/>, or null.</summary>
    public TensorProto? Initializer(string value)
    {
        Refresh();
        return _initializers.GetValueOrDefault(value);
    }

    /// <summary>The shape of a constant (initializer or <c>Constant</c> node), or null when <paramref name="value"/> is not constant.</summary>
    public IReadOnlyList<long>? ConstantShape(string value) => ConstantTensor(value) is { } tensor ? [.. tensor.Dims] : null;

    /// <summary>The float values of a float32 constant (initializer, inline or external, or <c>Constant</c> node).</summary>
    public bool TryReadFloats(string value, out float[] values)
    {
        values = [];
        if (ConstantNode(value) is { } constant)
        {
            if (constant.Attribute.FirstOrDefault(a => a.Name == "value_float") is { } f)
            {
                values = [f.F];
                return true;
            }

            if (constant.Attribute.FirstOrDefault(a => a.Name == "value_floats") is { } fs)
            {
                values = [.. fs.Floats];
                return true;
            }
        }

        if (ConstantTensor(value) is not { } tensor || tensor.DataType != (int)TensorProto.Types.DataType.Float)
        {
            return false;
        }

        values = ModelQuantizer.ReadFloats(tensor, _graphFolder);
        return true;
    }

    /// <summary>The single float of a scalar (or one-element) float32 constant.</summary>
    public bool TryReadScalar(string value, out float scalar)
    {
        scalar = 0;
        if (!TryReadFloats(value, out var values) || values.Length != 1)
        {
            return false;
        }

        scalar = values[0];
        return true;
    }

    /// <summary>The values of an int64 (or int32) constant, such as a Reduce node's axes.</summary>
    public bool TryReadInts(string value, out long[] values)
    {
        values = [];
        if (ConstantNode(value) is { } constant)
        {
            if (constant.Attribute.FirstOrDefault(a => a.Name == "value_int") is { } i)
            {
                values = [i.I];
                return true;
            }

            if (constant.Attribute.FirstOrDefault(a => a.Name == "value_ints") is { } ints)
            {
                values = [.. ints.Ints];
                return true;
            }
        }

        if (ConstantTensor(value) is not { } tensor || ModelQuantizer.External(tensor) is not null)
        {
            return false;
        }

        var count = tensor.Dims.Aggregate(1L, (a, d) => a * d);
        switch ((TensorProto.Types.DataType)tensor.DataType)
        {
            case TensorProto.Types.DataType.Int64:
                values = tensor.HasRawData ? MemoryMarshal.Cast<byte, long>(tensor.RawData.Span).ToArray() : [.. tensor.Int64Data];
                break;
            case TensorProto.Types.DataType.Int32:
                values = tensor.HasRawData ? [.. MemoryMarshal.Cast<byte, int>(tensor.RawData.Span).ToArray().Select(v => (long)v)] : [.. tensor.Int32Data.Select(v => (long)v)];
                break;
            default:
                return false;
        }

        return values.Length == count;
    }

    /// <summary>Removes <paramref name="nodes"/> from the graph (the values they produced are left to their readers to replace).</summary>
    public void Remove(params IEnumerable<NodeProto> nodes)
    {
        foreach (var node in nodes.Distinct())
        {
            Graph.Node.Remove(node);
        }

        _stale = true;
    }

    /// <summary>Adds <paramref name="node"/> to the graph (at the end; <see cref="Finish"/> sorts).</summary>
    public void Add(NodeProto node)
    {
        Graph.Node.Add(node);
        if (node.Domain == MicrosoftDomain)
        {
            UseDomain(MicrosoftDomain, 1);
        }

        _stale = true;
    }

    /// <summary>Makes every reader of <paramref name="from"/> (graph outputs included) read <paramref name="to"/> instead.</summary>
    public void ReplaceUses(string from, string to)
    {
        foreach (var node in Graph.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
            {
                if (node.Input[i] == from)
                {
                    node.Input[i] = to;
                }
            }
        }

        foreach (var output in Graph.Output)
        {
            if (output.Name == from)
            {
                output.Name = to;
            }
        }

        _stale = true;
    }

    /// <summary>Adds a small float32 initializer, inline, under a fresh name built from <paramref name="prefix"/>.</summary>
    public string AddInitializer(string prefix, long[] dims, float[] values)
    {
        var tensor = new TensorProto { Name = FreshName(prefix), DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        Graph.Initializer.Add(tensor);
        _stale = true;
        return tensor.Name;
    }

    /// <summary>Adds a small int64 initializer, inline, under a fresh name built from <paramref name="prefix"/>.</summary>
    public string AddInt64Initializer(string prefix, long[] dims, long[] values)
    {
        var tensor = new TensorProto { Name = FreshName(prefix), DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        Graph.Initializer.Add(tensor);
        _stale = true;
        return tensor.Name;
    }

    /// <summary>Marks the maps stale after a fusion changed the graph's inputs or outputs directly.</summary>
    public void Changed() => _stale = true;

    /// <summary>A value or node name used nowhere in the graph, built from <paramref name="prefix"/>.</summary>
    public string FreshName(string prefix)
    {
        Refresh();
        while (true)
        {
            var name = prefix + "_" + _nextName++.ToString(CultureInfo.InvariantCulture);
            if (_names.Add(name))
            {
                return name;
            }
        }
    }

    /// <summary>The opset version the model imports for <paramref name="domain"/> ("" is ONNX's own), or 0 when it imports none.</summary>
    public long OpsetVersion(string domain) =>
        _model.OpsetImport.FirstOrDefault(o => o.Domain == domain || (domain.Length == 0 && o.Domain == "ai.onnx"))?.Version ?? 0;

    /// <summary>Imports <paramref name="domain"/> at <paramref name="version"/> when the model does not yet.</summary>
    public void UseDomain(string domain, long version)
    {
        if (!_model.OpsetImport.Any(o => o.Domain == domain))
        {
            _model.OpsetImport.Add(new OperatorSetIdProto { Domain = domain, Version = version });
        }
    }

    /// <summary>A new node with a fresh name.</summary>
    public NodeProto NewNode(string opType, string domain, IEnumerable<string> inputs, IEnumerable<string> outputs, string? namePrefix = null)
    {
        var node = new NodeProto { OpType = opType, Name = FreshName(namePrefix ?? opType) };
        if (domain.Length > 0)
        {
            node.Domain = domain;
        }

        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        return node;
    }

    /// <summary>
    /// Drops the nodes and initializers that fusions left unread (what nothing read before the pass stays, so a graph
    /// no fusion matched is written unchanged) and sorts the nodes topologically.
    /// </summary>
    public void Finish()
    {
        while (true)
        {
            var used = Used();
            var deadNodes = Graph.Node.Where(n => IsDead(n, used) && !_deadAtStart.Contains(n)).ToList();
            foreach (var node in deadNodes)
            {
                Graph.Node.Remove(node);
            }

            var deadTensors = Graph.Initializer.Where(t => !used.Contains(t.Name) && !_unusedAtStart.Contains(t)).ToList();
            foreach (var tensor in deadTensors)
            {
                Graph.Initializer.Remove(tensor);
            }

            if (deadNodes.Count == 0 && deadTensors.Count == 0)
            {
                break;
            }
        }

        SortTopologically();
        _stale = true;
    }

    /// <summary>Node counts by operator (<c>domain:op</c> outside the default domain).</summary>
    public static SortedDictionary<string, int> CountOperators(GraphProto graph)
    {
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in graph.Node)
        {
            var key = node.Domain is { Length: > 0 } d && d != "ai.onnx" ? d + ":" + node.OpType : node.OpType;
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        return counts;
    }

    /// <summary>An int attribute of <paramref name="node"/>, or <paramref name="fallback"/>.</summary>
    public static long IntAttribute(NodeProto node, string name, long fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.I : fallback;

    /// <summary>A float attribute of <paramref name="node"/>, or <paramref name="fallback"/>.</summary>
    public static float FloatAttribute(NodeProto node, string name, float fallback) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { } a ? a.F : fallback;

    /// <summary>An int attribute.</summary>
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>Whether <paramref name="node"/> is <paramref name="opType"/> in the default ONNX domain.</summary>
    public static bool Is(NodeProto? node, string opType) =>
        node is not null && node.OpType == opType && node.Domain is not { Length: > 0 } or "ai.onnx";

    private static bool IsDead(NodeProto node, HashSet<string> used) => node.Output.All(o => o.Length == 0 || !used.Contains(o));

    private HashSet<string> Used()
    {
        var used = new HashSet<string>(Graph.Output.Select(o => o.Name), StringComparer.Ordinal);
        foreach (var node in Graph.Node)
        {
            used.UnionWith(node.Input);
        }

        return used;
    }

    private NodeProto? ConstantNode(string value) => Producer(value) is { } p && Is(p, "Constant") ? p : null;

    private TensorProto? ConstantTensor(string value)
    {
        if (Initializer(value) is { } initializer)
        {
            return initializer;
        }

        return ConstantNode(value)?.Attribute.FirstOrDefault(a => a.Name == "value")?.T;
    }

    private void Refresh()
    {
        if (!_stale)
        {
            return;
        }

        _initializers.Clear();
        _producers.Clear();
        _consumers.Clear();
        _graphOutputs.Clear();
        _graphInputs.Clear();
        _names.Clear();
        foreach (var tensor in Graph.Initializer)
        {
            _initializers[tensor.Name] = tensor;
            _names.Add(tensor.Name);
        }

        foreach (var input in Graph.Input)
        {
            _graphInputs.Add(input.Name);
            _names.Add(input.Name);
        }

        foreach (var output in Graph.Output)
        {
            _graphOutputs.Add(output.Name);
        }

        foreach (var node in Graph.Node)
        {
            _names.Add(node.Name);
            foreach (var output in node.Output)
            {
                _producers[output] = node;
                _names.Add(output);
            }

            foreach (var input in node.Input.Distinct())
            {
                if (!_consumers.TryGetValue(input, out var list))
                {
                    _consumers[input] = list = [];
                }

                list.Add(node);
            }
        }

        _stale = false;
    }

    /// <summary>Kahn's algorithm, stable: a node keeps its place unless something it reads comes later.</summary>
    private void SortTopologically()
    {
        var nodes = Graph.Node.ToList();
        var producerIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < nodes.Count; i++)
        {
            foreach (var output in nodes[i].Output)
            {
                producerIndex[output] = i;
            }
        }

        var waiting = new int[nodes.Count];
        var dependents = new List<int>[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            dependents[i] = [];
        }

        for (var i = 0; i < nodes.Count; i++)
        {
            foreach (var input in nodes[i].Input.Distinct())
            {
                if (input.Length > 0 && producerIndex.TryGetValue(input, out var p) && p != i)
                {
                    waiting[i]++;
                    dependents[p].Add(i);
                }
            }
        }

        var ready = new PriorityQueue<int, int>();
        for (var i = 0; i < nodes.Count; i++)
        {
            if (waiting[i] == 0)
            {
                ready.Enqueue(i, i);
            }
        }

        var sorted = new List<NodeProto>(nodes.Count);
        while (ready.TryDequeue(out var i, out _))
        {
            sorted.Add(nodes[i]);
            foreach (var d in dependents[i])
            {
                if (--waiting[d] == 0)
                {
                    ready.Enqueue(d, d);
                }
            }
        }

        if (sorted.Count != nodes.Count)
        {
            throw new OptimizationException("A fusion left a cycle in the graph; nothing was written.");
        }

        Graph.Node.Clear();
        Graph.Node.AddRange(sorted);
    }
}
