using OnnxGpt.Generation;

namespace OnnxGpt.GenAI.Tests;

public class TokenizerFallbackTests
{
    [Test]
    public async Task A_folder_with_only_tokenizer_json_uses_onnxruntime_genai_s_tokenizer()
    {
        var directory = Directory.CreateTempSubdirectory("onnxgpt-genai-tok-");
        try
        {
            foreach (var file in new[] { "model.onnx", "genai_config.json", "tokenizer.json", "tokenizer_config.json" })
            {
                File.Copy(Path.Combine(Fixtures.TinyShakespeare, file), Path.Combine(directory.FullName, file));
            }

            var reference = Fixtures.Greedy("tiny-shakespeare", Fixtures.TinyShakespeare).First();
            using var generator = Fixtures.Create(directory.FullName);
            var result = await generator.GenerateAsync(reference.Prompt!, new GenerationOptions { DoSample = false, MaxNewTokens = reference.GreedyIds.Length });

            using var withOnnxGptTokenizer = Fixtures.Create(Fixtures.TinyShakespeare);
            var expected = await withOnnxGptTokenizer.GenerateAsync(reference.Prompt!, new GenerationOptions { DoSample = false, MaxNewTokens = reference.GreedyIds.Length });

            Assert.Multiple(() =>
            {
                Assert.That(generator.Tokenizer, Is.Null);
                Assert.That(generator.ModelInfo.TokenizerKind, Does.Contain("tokenizer.json"));
                Assert.That(result.PromptTokenIds, Is.EqualTo(reference.PromptIds));
                Assert.That(result.TokenIds, Is.EqualTo(reference.GreedyIds));
                Assert.That(result.Text, Is.EqualTo(expected.Text));
            });
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
