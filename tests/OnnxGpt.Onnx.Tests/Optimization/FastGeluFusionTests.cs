using OnnxGpt.Onnx.Optimization;

namespace OnnxGpt.Onnx.Tests.Optimization;

[TestFixture]
public sealed class FastGeluFusionTests
{
    /// <summary>
    /// The fc layer and GELU as transformers' NewGELUActivation exports it (GPT-2's tiny-shakespeare and gpt2-124m):
    /// h = x·W + bias; 0.5h * (1 + tanh(0.7978845608 * (h + h * 0.044715 * h * h))).
    /// </summary>
    private static TestGraph Gpt2Mlp(bool cubeAsPow = false, float tanhScale = 0.7978845608f)
    {
        var g = new TestGraph();
        g.Input("x");
        g.Node("MatMul", ["x", g.Initializer("w", 8, 16)], ["mm"]);
        g.Node("Add", ["mm", g.Initializer("bias", 16)], ["h"]);
        g.Node("Mul", ["h", g.Constant(0.5f)], ["half"]);
        if (cubeAsPow)
        {
            g.Node("Pow", ["h", g.Constant(3f)], ["cube"]);
            g.Node("Mul", [g.Constant(0.044715f), "cube"], ["cubed"]);
        }
        else
        {
            g.Node("Mul", ["h", g.Constant(0.044715f)], ["m1"]);
            g.Node("Mul", ["m1", "h"], ["m2"]);
            g.Node("Mul", ["m2", "h"], ["cubed"]);
        }

        g.Node("Add", ["h", "cubed"], ["inner"]);
        g.Node("Mul", ["inner", g.Constant(tanhScale)], ["scaled"]);
        g.Node("Tanh", ["scaled"], ["t"]);
        g.Node("Add", ["t", g.Constant(1f)], ["onePlus"]);
        g.Node("Mul", ["half", "onePlus"], ["gelu"]);
        g.Output("gelu");
        return g;
    }

    [Test]
    public void Gpt2s_tanh_gelu_becomes_fastgelu_and_the_fc_bias_its_bias_input()
    {
        var graph = Gpt2Mlp();
        var (model, counts) = graph.Fuse(new FastGeluFusion(), new BiasFastGeluFusion());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1, 1 }));
            Assert.That(model.Graph.Node.Select(TestGraph.Signature), Is.EqualTo(new[] { "MatMul(x,w)->(mm)", "com.microsoft:FastGelu(mm,bias)->(gelu)" }));
            Assert.That(model.Graph.Node[1].Attribute, Is.Empty);
        }

        SkipLayerNormFusionTests.AssertSameOutputs(graph.Model, model);
    }

    [Test]
    public void Without_the_bias_fusion_the_bias_add_stays_before_fastgelu()
    {
        var graph = Gpt2Mlp(cubeAsPow: true);
        var (model, counts) = graph.Fuse(new FastGeluFusion());

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(model.Graph.Node.Select(TestGraph.Signature), Is.EqualTo(new[] { "MatMul(x,w)->(mm)", "Add(mm,bias)->(h)", "com.microsoft:FastGelu(h)->(gelu)" }));
        }

        SkipLayerNormFusionTests.AssertSameOutputs(graph.Model, model);
    }

    [Test]
    public void GeluCubeAsPow_rewrites_only_the_cube_into_the_arrangement_onnx_runtime_fuses()
    {
        var graph = Gpt2Mlp();
        var (model, counts) = graph.Fuse(new FastGeluFusion(cubeAsPowOnly: true));
        var ops = model.Graph.Node.Select(n => n.OpType).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1 }));
            Assert.That(ops, Is.EqualTo(new[] { "MatMul", "Add", "Constant", "Mul", "Constant", "Constant", "Pow", "Mul", "Add", "Mul", "Tanh", "Add", "Mul" }));
            var pow = model.Graph.Node.Single(n => n.OpType == "Pow");
            Assert.That(pow.Input[0], Is.EqualTo("h"));
            Assert.That(model.Graph.Node.Single(n => n.Input.Contains(pow.Output[0])).Output[0], Is.EqualTo("cubed"));
        }

        SkipLayerNormFusionTests.AssertSameOutputs(graph.Model, model);
        Assert.That(new FastGeluFusion(cubeAsPowOnly: true).Apply(new GraphContext(model, AppContext.BaseDirectory)), Is.Zero, "already Pow(x, 3)");
    }

    [Test]
    public void A_tanh_with_another_scale_is_left_unchanged()
    {
        var graph = Gpt2Mlp(tanhScale: 0.5f);
        var (model, counts) = graph.Fuse(new FastGeluFusion(), new BiasFastGeluFusion(), new FastGeluFusion(cubeAsPowOnly: true));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 0, 0, 0 }));
            Assert.That(model, Is.EqualTo(graph.Model));
        }
    }
}
