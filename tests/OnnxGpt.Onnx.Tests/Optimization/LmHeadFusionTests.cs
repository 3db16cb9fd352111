using OnnxGpt.Onnx.Optimization;

namespace OnnxGpt.Onnx.Tests.Optimization;

[TestFixture]
public sealed class LmHeadFusionTests
{
    /// <summary>A tied lm_head: logits = x · Transpose(wte), wte [vocab 10, hidden 8].</summary>
    private static TestGraph TiedHead()
    {
        var g = new TestGraph();
        g.Input("x");
        g.Node("Transpose", [g.Initializer("wte", 10, 8)], ["wte_t"], new Protos.AttributeProto { Name = "perm", Type = Protos.AttributeProto.Types.AttributeType.Ints, Ints = { 1, 0 } });
        g.Node("MatMul", ["x", "wte_t"], ["logits"]);
        g.Output("logits");
        return g;
    }

    [Test]
    public void The_tied_head_becomes_one_fusedmatmul_with_transb_on_the_weight_itself()
    {
        var graph = TiedHead();
        var (model, counts) = graph.Fuse(new LmHeadFusion(LmHeadForm.TransB));
        var node = model.Graph.Node.Single();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(TestGraph.Signature(node), Is.EqualTo("com.microsoft:FusedMatMul(x,wte)->(logits)"));
            Assert.That(node.Attribute.Single(a => a.Name == "transB").I, Is.EqualTo(1));
            Assert.That(node.Attribute.Single(a => a.Name == "transA").I, Is.Zero);
            Assert.That(node.Attribute.Single(a => a.Name == "alpha").F, Is.EqualTo(1f));
        }

        SkipLayerNormFusionTests.AssertSameOutputs(graph.Model, model, 1e-6);
    }

    [Test]
    public void The_split_form_multiplies_row_blocks_of_the_weight_and_concatenates_them()
    {
        var graph = TiedHead();
        var (model, counts) = graph.Fuse(new LmHeadFusion(LmHeadForm.Split2));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(model.Graph.Node.Select(n => n.OpType), Is.EqualTo(new[] { "Slice", "FusedMatMul", "Slice", "FusedMatMul", "Concat" }));
        }

        SkipLayerNormFusionTests.AssertSameOutputs(graph.Model, model, 1e-6);
    }

    [Test]
    public void The_unpacked_form_lists_the_weight_among_the_graph_inputs()
    {
        var (model, counts) = TiedHead().Fuse(new LmHeadFusion(LmHeadForm.Unpacked));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(model.Graph.Input.Select(i => i.Name), Is.EqualTo(new[] { "x", "wte" }));
            Assert.That(model.Graph.Input[1].Type.TensorType.Shape.Dim.Select(d => d.DimValue), Is.EqualTo(new long[] { 10, 8 }));
            Assert.That(model.Graph.Initializer.Select(i => i.Name), Is.EqualTo(new[] { "wte" }));
        }
    }

    [Test]
    public void The_forms_run_only_when_named()
    {
        Assert.That(FusionRegistry.Select([]).Select(f => f.Name), Has.None.StartsWith("LmHead"));
    }
}
