namespace OnnxGpt.Cli.Tests;

public sealed class OptimizeCommandTests
{
    [Test]
    public async Task Optimize_json_prints_each_fusions_count_and_its_variant_generates_the_same_greedy_ids()
    {
        var folder = Directory.CreateTempSubdirectory("onnxgpt-cli-optimize-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(CliRunner.EmbeddedModel))
            {
                File.Copy(file, Path.Combine(folder, Path.GetFileName(file)));
            }

            var json = (await CliRunner.RunAsync("optimize", "-m", folder, "-o", folder, "--variant", "fused", "--json")).Json();
            var text = (await CliRunner.RunAsync("optimize", "-m", folder, "-o", folder, "--variant", "gelu", "--fusion", "FastGelu")).Stdout;
            var original = (await CliRunner.RunAsync("generate", "ROMEO:", "--model", folder, "--greedy", "--max-new-tokens", "16", "--json")).Json();
            var fused = (await CliRunner.RunAsync("generate", "ROMEO:", "--model", folder, "--variant", "fused", "--greedy", "--max-new-tokens", "16", "--json")).Json();
            var fusions = json.GetProperty("fusions");

            using (Assert.EnterMultipleScope())
            {
                Assert.That(json.GetProperty("graph").GetString(), Is.EqualTo(Path.Combine(folder, "model_fused.onnx")));
                Assert.That(fusions.GetProperty("MultiHeadAttention").GetInt32(), Is.EqualTo(4));
                Assert.That(fusions.GetProperty("SkipLayerNormalization").GetInt32(), Is.EqualTo(9));
                Assert.That(fusions.GetProperty("BiasSkipLayerNormalization").GetInt32(), Is.EqualTo(8));
                Assert.That(fusions.GetProperty("FastGelu").GetInt32(), Is.EqualTo(4));
                Assert.That(fusions.GetProperty("BiasFastGelu").GetInt32(), Is.EqualTo(4));
                Assert.That(fusions.GetProperty("LogitsToKeep").GetInt32(), Is.EqualTo(1));
                Assert.That((json.GetProperty("nodesBefore").GetInt32(), json.GetProperty("nodesAfter").GetInt32()), Is.EqualTo((391, 87)));
                Assert.That(json.GetProperty("operatorsAfter").GetProperty("com.microsoft:SkipLayerNormalization").GetInt32(), Is.EqualTo(9));
                Assert.That(text, Does.Contain("model_gelu.onnx: 391 -> 343 nodes"));
                Assert.That(text, Does.Contain("  FastGelu: 4"));
                Assert.That(text, Does.Contain("com.microsoft:FastGelu 0->4"));
                Assert.That(File.Exists(Path.Combine(folder, "optimize_config_fused.json")), Is.True);
                Assert.That(fused.GetProperty("tokenIds").EnumerateArray().Select(e => e.GetInt32()), Is.EqualTo(original.GetProperty("tokenIds").EnumerateArray().Select(e => e.GetInt32())));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
