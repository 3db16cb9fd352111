using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// GPT-2 self-attention with past into one com.microsoft <c>MultiHeadAttention</c> per layer, as onnxruntime's
/// <c>fusion_gpt_attention.py</c> does offline. The match, from each <c>Softmax</c> (last axis) back:
/// <code>
/// q, k, v = Split(x, [N*D, N*D, N*D], last axis)
/// Q = Transpose(Reshape(q, [b, s, N, D]), 0 2 1 3)          (likewise K, V)
/// present_key = Concat(past_key, K, axis 2)                   present_value = Concat(past_value, V, axis 2)
/// P = Softmax(MatMul(Q, Transpose(present_key, 0 1 3 2)) / c + mask)        (or * c)
/// out = Reshape(Transpose(MatMul(P, present_value), 0 2 1 3), [b, s, ...])
/// </code>
/// where N and D are constants and b, s are the same two dimensions (<c>Unsqueeze(Gather(Shape(t), 0|1))</c>) in
/// every shape. It becomes <c>MultiHeadAttention(q, k, v, , , mask, past_key, past_value)</c> with num_heads N and
/// scale 1/c (or c), writing <c>out</c>, <c>present_key</c> and <c>present_value</c> under their own names, so the
/// graph's inputs and outputs and the present tensors' layout ([batch, heads, total, head size]) stay as they were.
/// The graph's own additive mask (causal and padding, as computed) is fed as <c>attention_bias</c>, so left-padded
/// rows and a chunked prefill with past see exactly the masking they saw (no <c>unidirectional</c>, no
/// <c>key_padding_mask</c>). Anything else, including a value inside the pattern that something outside it reads, is
/// left alone.
/// </summary>
internal sealed class AttentionFusion : IGraphFusion
{
    /// <inheritdoc />
    public string Name => "MultiHeadAttention";

    /// <inheritdoc />
    public int Apply(GraphContext graph)
    {
        var fused = 0;
        foreach (var softmax in graph.Nodes.Where(n => GraphContext.Is(n, "Softmax")))
        {
            if (Find(graph, softmax) is { } match)
            {
                Rewrite(graph, match);
                fused++;
            }
        }

        return fused;
    }

    private static AttentionMatch? Find(GraphContext graph, NodeProto softmax)
    {
        // Softmax over the key axis of [batch, heads, query, key] scores.
        if (GraphContext.IntAttribute(softmax, "axis", -1) is not (-1 or 3))
        {
            return null;
        }

        var add = graph.Producer(softmax.Input[0]);
        if (!GraphContext.Is(add, "Add") || !graph.OnlyConsumer(add!.Output[0], softmax))
        {
            return null;
        }

        // Scores (scaled) + mask, in either order; the mask is a computed tensor, not a constant.
        NodeProto? scaling = null;
        string mask = "";
        for (var i = 0; i < 2 && scaling is null; i++)
        {
            var candidate = graph.Producer(add.Input[i]);
            if ((GraphContext.Is(candidate, "Div") || GraphContext.Is(candidate, "Mul")) && graph.OnlyConsumer(candidate!.Output[0], add))
            {
                scaling = candidate;
                mask = add.Input[1 - i];
            }
        }

        if (scaling is null || mask.Length == 0 || graph.ConstantShape(mask) is not null || add.Input[0] == add.Input[1])
        {
            return null;
        }

        var scoresIndex = GraphContext.Is(graph.Producer(scaling.Input[0]), "MatMul") ? 0 : 1;
        if (GraphContext.Is(scaling, "Div") && scoresIndex != 0)
        {
            return null;
        }

        if (!graph.TryReadScalar(scaling.Input[1 - scoresIndex], out var factor) || !float.IsFinite(factor) || factor <= 0)
        {
            return null;
        }

        var scale = GraphContext.Is(scaling, "Div") ? 1 / factor : factor;
        var scores = graph.Producer(scaling.Input[scoresIndex]);
        if (!GraphContext.Is(scores, "MatMul") || !graph.OnlyConsumer(scores!.Output[0], scaling))
        {
            return null;
        }

        // Q: [b, N, s, D] from q; K^T from the present key.
        if (Heads(graph, scores.Input[0], scores) is not { } query)
        {
            return null;
        }

        var keyTranspose = graph.Producer(scores.Input[1]);
        if (!IsTranspose(keyTranspose, [0, 1, 3, 2]) || !graph.OnlyConsumer(keyTranspose!.Output[0], scores))
        {
            return null;
        }

        if (Present(graph, keyTranspose.Input[0]) is not { } key)
        {
            return null;
        }

        // P x present value -> [b, s, N, D] -> [b, s, N*D].
        if (graph.Consumers(softmax.Output[0]) is not [var context] || !GraphContext.Is(context, "MatMul")
            || context.Input[0] != softmax.Output[0] || graph.IsGraphOutput(softmax.Output[0]))
        {
            return null;
        }

        if (Present(graph, context.Input[1]) is not { } value)
        {
            return null;
        }

        if (graph.Consumers(context.Output[0]) is not [var merge] || !IsTranspose(merge, [0, 2, 1, 3]) || graph.IsGraphOutput(context.Output[0]))
        {
            return null;
        }

        if (graph.Consumers(merge.Output[0]) is not [var reshape] || !GraphContext.Is(reshape, "Reshape") || reshape.Input[0] != merge.Output[0]
            || graph.IsGraphOutput(merge.Output[0]))
        {
            return null;
        }

        // One head count and head size; q, k and v the three equal parts of one Split along the hidden axis; the
        // same batch and sequence dimensions in every reshape (so the output's [b, s, N*D] is MultiHeadAttention's).
        if (query.Heads != key.Heads.Heads || query.Heads != value.Heads.Heads || query.HeadSize != key.Heads.HeadSize
            || query.HeadSize != value.Heads.HeadSize || query.Batch != key.Heads.Batch || query.Batch != value.Heads.Batch
            || query.Sequence != key.Heads.Sequence || query.Sequence != value.Heads.Sequence)
        {
            return null;
        }

        if (!SplitParts(graph, query.Input, key.Heads.Input, value.Heads.Input, query.Heads * query.HeadSize))
        {
            return null;
        }

        if (ShapeDims(graph, reshape.Input[1], 3) is not { } outputShape || outputShape[0] != query.Batch || outputShape[1] != query.Sequence
            || GraphContext.IntAttribute(reshape, "allowzero", 0) != 0)
        {
            return null;
        }

        return new AttentionMatch(query, key, value, mask, scale,
            [add, scaling, scores, query.Reshape, query.Transpose, keyTranspose, key.Concat, key.Heads.Reshape, key.Heads.Transpose,
             softmax, context, value.Concat, value.Heads.Reshape, value.Heads.Transpose, merge, reshape],
            reshape.Output[0]);
    }

    /// <summary><c>Transpose(Reshape(x, [b, s, N, D]), 0 2 1 3)</c> producing <paramref name="value"/>, read only by <paramref name="reader"/>.</summary>
    private static HeadSplit? Heads(GraphContext graph, string value, NodeProto reader)
    {
        var transpose = graph.Producer(value);
        if (!IsTranspose(transpose, [0, 2, 1, 3]) || !graph.OnlyConsumer(transpose!.Output[0], reader))
        {
            return null;
        }

        var reshape = graph.Producer(transpose.Input[0]);
        if (!GraphContext.Is(reshape, "Reshape") || !graph.OnlyConsumer(reshape!.Output[0], transpose)
            || GraphContext.IntAttribute(reshape, "allowzero", 0) != 0)
        {
            return null;
        }

        if (ShapeDims(graph, reshape.Input[1], 4) is not { } dims || dims[2] is not ConstantDim { Value: > 0 } heads
            || dims[3] is not ConstantDim { Value: > 0 } headSize || dims[0] is not ShapeDim || dims[1] is not ShapeDim)
        {
            return null;
        }

        return new HeadSplit(reshape.Input[0], reshape, transpose, heads.Value, headSize.Value, dims[0], dims[1]);
    }

    /// <summary><c>Concat(past, Heads(x), axis 2)</c> producing <paramref name="value"/> (a present tensor; others may read it).</summary>
    private static CacheConcat? Present(GraphContext graph, string value)
    {
        var concat = graph.Producer(value);
        if (!GraphContext.Is(concat, "Concat") || concat!.Input.Count != 2 || GraphContext.IntAttribute(concat, "axis", 0) is not (2 or -2))
        {
            return null;
        }

        return Heads(graph, concat.Input[1], concat) is { } heads ? new CacheConcat(concat, concat.Input[0], heads) : null;
    }

    /// <summary>Whether q, k and v are outputs 0, 1 and 2 of one Split along the last of 3 axes into three parts of <paramref name="width"/>.</summary>
    private static bool SplitParts(GraphContext graph, string q, string k, string v, long width)
    {
        var split = graph.Producer(q);
        if (!GraphContext.Is(split, "Split") || split!.Output.Count != 3 || split.Output[0] != q || split.Output[1] != k || split.Output[2] != v
            || GraphContext.IntAttribute(split, "axis", 0) is not (2 or -1))
        {
            return false;
        }

        long[] sizes;
        if (split.Input.Count > 1 && split.Input[1].Length > 0)
        {
            if (!graph.TryReadInts(split.Input[1], out sizes))
            {
                return false;
            }
        }
        else if (split.Attribute.FirstOrDefault(a => a.Name == "split") is { } attribute)
        {
            sizes = [.. attribute.Ints];
        }
        else
        {
            return false;
        }

        return sizes is [var a, var b, var c] && a == width && b == width && c == width;
    }

    /// <summary>
    /// The entries of a shape built as <c>Concat(e0, e1, ...)</c> of one-element tensors: a constant, or
    /// <c>Unsqueeze(Gather(Shape(t), i), [0])</c> (identified by t and i); null when any entry is something else.
    /// </summary>
    private static Dim[]? ShapeDims(GraphContext graph, string shape, int rank)
    {
        var concat = graph.Producer(shape);
        if (!GraphContext.Is(concat, "Concat") || concat!.Input.Count != rank || GraphContext.IntAttribute(concat, "axis", 0) != 0)
        {
            return null;
        }

        var dims = new Dim[rank];
        for (var i = 0; i < rank; i++)
        {
            if (Entry(graph, concat.Input[i]) is not { } dim)
            {
                return null;
            }

            dims[i] = dim;
        }

        return dims;
    }

    private static Dim? Entry(GraphContext graph, string value)
    {
        if (graph.TryReadInts(value, out var constant) && constant.Length == 1 && graph.ConstantShape(value) is [1])
        {
            return new ConstantDim(constant[0]);
        }

        var unsqueeze = graph.Producer(value);
        if (!GraphContext.Is(unsqueeze, "Unsqueeze") || unsqueeze!.Input.Count != 2 || !graph.TryReadInts(unsqueeze.Input[1], out var axes) || axes is not [0])
        {
            return null;
        }

        var source = unsqueeze.Input[0];
        if (graph.TryReadInts(source, out var scalar) && scalar.Length == 1 && graph.ConstantShape(source) is [])
        {
            return new ConstantDim(scalar[0]);
        }

        var gather = graph.Producer(source);
        if (!GraphContext.Is(gather, "Gather") || GraphContext.IntAttribute(gather!, "axis", 0) != 0
            || !graph.TryReadInts(gather!.Input[1], out var index) || index.Length != 1 || graph.ConstantShape(gather.Input[1]) is not [])
        {
            return null;
        }

        var shapeOf = graph.Producer(gather.Input[0]);
        if (!GraphContext.Is(shapeOf, "Shape") || shapeOf!.Attribute.Count != 0)
        {
            return null;
        }

        return new ShapeDim(shapeOf.Input[0], index[0]);
    }

    private static bool IsTranspose(NodeProto? node, long[] perm) =>
        GraphContext.Is(node, "Transpose") && node!.Attribute.FirstOrDefault(a => a.Name == "perm") is { } attribute && attribute.Ints.SequenceEqual(perm);

    private static void Rewrite(GraphContext graph, AttentionMatch match)
    {
        var attention = graph.NewNode(
            "MultiHeadAttention",
            GraphContext.MicrosoftDomain,
            [match.Query.Input, match.Key.Heads.Input, match.Value.Heads.Input, "", "", match.Mask, match.Key.Past, match.Value.Past],
            [match.Output, match.Key.Concat.Output[0], match.Value.Concat.Output[0]],
            "MultiHeadAttention");
        attention.Attribute.Add(GraphContext.Int("num_heads", match.Query.Heads));
        attention.Attribute.Add(GraphContext.Float("scale", match.Scale));
        attention.Attribute.Add(GraphContext.Int("unidirectional", 0));

        // The pattern's nodes go; what only they read (the shape arithmetic) goes in GraphContext.Finish.
        graph.Remove(match.Nodes);
        graph.Add(attention);
    }

    private abstract record Dim;

    private sealed record ConstantDim(long Value) : Dim;

    private sealed record ShapeDim(string Tensor, long Index) : Dim;

    private sealed record HeadSplit(string Input, NodeProto Reshape, NodeProto Transpose, long Heads, long HeadSize, Dim Batch, Dim Sequence);

    private sealed record CacheConcat(NodeProto Concat, string Past, HeadSplit Heads);

    private sealed record AttentionMatch(HeadSplit Query, CacheConcat Key, CacheConcat Value, string Mask, float Scale, NodeProto[] Nodes, string Output);
}
