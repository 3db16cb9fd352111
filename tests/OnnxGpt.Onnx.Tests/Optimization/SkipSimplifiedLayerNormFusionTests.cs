using OnnxGpt.Onnx.Optimization;

namespace OnnxGpt.Onnx.Tests.Optimization;

[TestFixture]
public sealed class SkipSimplifiedLayerNormFusionTests
{
    /// <summary>Llama's RMSNorm as the benchmark's llama-135m exports it: x * (1 / sqrt(mean(x^2) + eps)) * weight.</summary>
    private static void RmsNorm(TestGraph g, string x, string output)
    {
        g.Node("Pow", [x, g.Constant(2f)], ["sq"]);
        g.Node("ReduceMean", ["sq"], ["ms"], new Protos.AttributeProto { Name = "axes", Type = Protos.AttributeProto.Types.AttributeType.Ints, Ints = { -1 } }, GraphContext.Int("keepdims", 1));
        g.Node("Add", ["ms", g.Constant(1e-5f)], ["mse"]);
        g.Node("Sqrt", ["mse"], ["rms"]);
        g.Node("Div", [g.Constant(1f), "rms"], ["inv"]);
        g.Node("Mul", [x, "inv"], ["normed"]);
        g.Node("Mul", ["normed", g.Initializer("weight", 8)], [output]);
    }

    [Test]
    public void A_residual_add_and_rmsnorm_become_skipsimplifiedlayernorm_whose_fourth_output_is_the_sum()
    {
        var g = new TestGraph();
        g.Input("a");
        g.Input("b");
        g.Node("Add", ["a", "b"], ["sum"]);
        RmsNorm(g, "sum", "y");
        g.Node("Add", ["sum", "y"], ["out"]);
        g.Output("out");
        var (model, counts) = g.Fuse(new SkipSimplifiedLayerNormFusion());
        var norm = model.Graph.Node[0];

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(model.Graph.Node.Select(TestGraph.Signature), Is.EqualTo(new[]
            {
                "com.microsoft:SkipSimplifiedLayerNormalization(a,b,weight)->(y,,,sum)",
                "Add(sum,y)->(out)",
            }));
            Assert.That(norm.Attribute.Single().Name, Is.EqualTo("epsilon"));
            Assert.That(norm.Attribute.Single().F, Is.EqualTo(1e-5f));
        }

        SkipLayerNormFusionTests.AssertSameOutputs(g.Model, model);
    }

    [Test]
    public void An_rmsnorm_without_a_residual_becomes_simplifiedlayernorm()
    {
        var g = new TestGraph();
        g.Input("x");
        RmsNorm(g, "x", "y");
        g.Output("y");
        var (model, counts) = g.Fuse(new SkipSimplifiedLayerNormFusion());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(model.Graph.Node.Select(TestGraph.Signature), Is.EqualTo(new[] { "SimplifiedLayerNormalization(x,weight)->(y)" }));
            Assert.That(model.Graph.Node[0].Attribute.ToDictionary(a => a.Name, a => a.Name == "axis" ? a.I : (double)a.F), Is.EqualTo(new Dictionary<string, double> { ["axis"] = -1, ["epsilon"] = 1e-5f }));
        }

        SkipLayerNormFusionTests.AssertSameOutputs(g.Model, model);
    }

    [Test]
    public void A_mean_over_another_axis_is_left_unchanged()
    {
        var g = new TestGraph();
        g.Input("x");
        RmsNorm(g, "x", "y");
        g.Graph.Node.Single(n => n.OpType == "ReduceMean").Attribute[0].Ints[0] = 1;
        g.Output("y");
        var (model, counts) = g.Fuse(new SkipSimplifiedLayerNormFusion());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 0 }));
            Assert.That(model, Is.EqualTo(g.Model));
        }
    }
}
