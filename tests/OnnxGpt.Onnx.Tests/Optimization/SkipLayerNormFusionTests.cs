using OnnxGpt.Onnx.Optimization;
using OnnxGpt.Onnx.Protos;

namespace OnnxGpt.Onnx.Tests.Optimization;

[TestFixture]
public sealed class SkipLayerNormFusionTests
{
    /// <summary>a + (b·W + bias) -> LayerNorm -> y; the sum also feeds the next residual, out = sum + y.</summary>
    private static TestGraph PreNormBlock()
    {
        var g = new TestGraph();
        g.Input("a");
        g.Input("b");
        g.Node("MatMul", ["b", g.Initializer("w", 8, 8)], ["mm"]);
        g.Node("Add", ["mm", g.Initializer("bias", 8)], ["projected"]);
        g.Node("Add", ["a", "projected"], ["sum"]);
        g.Node("LayerNormalization", ["sum", g.Initializer("gamma", 8), g.Initializer("beta", 8)], ["y"], GraphContext.Int("axis", -1), GraphContext.Float("epsilon", 1e-5f));
        g.Node("Add", ["sum", "y"], ["out"]);
        g.Output("out");
        return g;
    }

    [Test]
    public void The_residual_add_and_layernorm_become_one_skiplayernorm_whose_fourth_output_is_the_sum()
    {
        var graph = PreNormBlock();
        var (model, counts) = graph.Fuse(new SkipLayerNormFusion());
        var skip = model.Graph.Node.Single(n => n.OpType == "SkipLayerNormalization");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(model.Graph.Node.Select(TestGraph.Signature), Is.EqualTo(new[]
            {
                "MatMul(b,w)->(mm)",
                "Add(mm,bias)->(projected)",
                "com.microsoft:SkipLayerNormalization(a,projected,gamma,beta)->(y,,,sum)",
                "Add(sum,y)->(out)",
            }));
            Assert.That(skip.Attribute.Single().Name, Is.EqualTo("epsilon"));
            Assert.That(skip.Attribute.Single().F, Is.EqualTo(1e-5f));
            Assert.That(model.OpsetImport.Any(o => o.Domain == "com.microsoft"), Is.True);
        }

        AssertSameOutputs(graph.Model, model);
    }

    [Test]
    public void The_projection_bias_moves_into_skiplayernorms_bias_input()
    {
        var graph = PreNormBlock();
        var (model, counts) = graph.Fuse(new SkipLayerNormFusion(), new BiasSkipLayerNormFusion());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1, 1 }));
            Assert.That(model.Graph.Node.Select(TestGraph.Signature), Is.EqualTo(new[]
            {
                "MatMul(b,w)->(mm)",
                "com.microsoft:SkipLayerNormalization(a,mm,gamma,beta,bias)->(y,,,sum)",
                "Add(sum,y)->(out)",
            }));
        }

        AssertSameOutputs(graph.Model, model);
    }

    [Test]
    public void A_last_layernorm_whose_sum_nothing_else_reads_has_one_output()
    {
        var g = new TestGraph();
        g.Input("a");
        g.Input("b");
        g.Node("Add", ["a", "b"], ["sum"]);
        g.Node("LayerNormalization", ["sum", g.Initializer("gamma", 8), g.Initializer("beta", 8)], ["y"], GraphContext.Float("epsilon", 1e-6f));
        g.Output("y");
        var (model, counts) = g.Fuse(new SkipLayerNormFusion(), new BiasSkipLayerNormFusion());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1, 0 }));
            Assert.That(model.Graph.Node.Select(TestGraph.Signature), Is.EqualTo(new[] { "com.microsoft:SkipLayerNormalization(a,b,gamma,beta)->(y)" }));
            Assert.That(model.Graph.Node[0].Attribute.Single().F, Is.EqualTo(1e-6f));
        }

        AssertSameOutputs(g.Model, model);
    }

    [Test]
    public void A_layernorm_after_a_bias_add_or_on_a_graph_input_is_left_unchanged()
    {
        var g = new TestGraph();
        g.Input("a");
        g.Node("Add", ["a", g.Initializer("bias", 8)], ["biased"]);
        g.Node("LayerNormalization", ["biased", g.Initializer("gamma", 8), g.Initializer("beta", 8)], ["y"]);
        g.Node("LayerNormalization", ["a", "gamma", "beta"], ["z"]);
        g.Node("Add", ["y", "z"], ["out"]);
        g.Output("out");
        var (model, counts) = g.Fuse(new SkipLayerNormFusion(), new BiasSkipLayerNormFusion());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 0, 0 }));
            Assert.That(model, Is.EqualTo(g.Model));
        }
    }

    internal static void AssertSameOutputs(ModelProto original, ModelProto fused, double tolerance = 1e-5)
    {
        var expected = TestGraph.Run(original);
        var actual = TestGraph.Run(fused);
        Assert.That(actual.Keys, Is.EquivalentTo(expected.Keys));
        foreach (var (name, values) in expected)
        {
            Assert.That(actual[name], Is.EqualTo(values).Within(tolerance), name);
        }
    }
}
