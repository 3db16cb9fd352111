using OnnxGpt.Generation;

namespace OnnxGpt.GenAI.Tests;

/// <summary>GptOptions.Variant on the GenAI backend resolves the graph as the core loader does and runs it.</summary>
public sealed class VariantTests
{
    [Test]
    public async Task A_variant_runs_model_NAME_onnx_beside_genai_config()
    {
        var c = Fixtures.Greedy("tiny-shakespeare", Fixtures.TinyShakespeare).First();
        var dir = Directory.CreateTempSubdirectory("onnxgpt-genai-variant-").FullName;
        try
        {
            // The folder's own model.onnx is a graph that cannot run: only the variant's graph can give the ids.
            foreach (var file in Directory.GetFiles(Fixtures.TinyShakespeare))
            {
                var name = Path.GetFileName(file);
                File.Copy(file, Path.Combine(dir, name == "model.onnx" ? "model_copy.onnx" : name));
            }

            File.WriteAllText(Path.Combine(dir, "model.onnx"), "not a graph");
            using var generator = GenAIGenerator.Create(new GptOptions { ModelPath = dir, Variant = "copy" });
            var result = await generator.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });
            var missing = Assert.Throws<ModelLoadException>(() => GenAIGenerator.Create(new GptOptions { ModelPath = dir, Variant = "q4" }));

            Assert.Multiple(() =>
            {
                Assert.That(result.TokenIds, Is.EqualTo(c.GreedyIds));
                Assert.That(generator.ModelInfo.Variant, Is.EqualTo("copy"));
                Assert.That(missing!.Message, Does.Contain("no variant 'q4'").And.Contain("fp32 (model.onnx), copy"));
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
