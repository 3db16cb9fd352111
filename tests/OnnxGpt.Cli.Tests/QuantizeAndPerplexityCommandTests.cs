using OnnxGpt.Evaluation;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli.Tests;

public sealed class QuantizeAndPerplexityCommandTests
{
    private const string Text = "ROMEO:\nIs the day so young?\nBENVOLIO:\nBut new struck nine.\nROMEO:\nAy me! sad hours seem long.\n";

    [Test]
    public async Task Perplexity_json_prints_the_scored_tokens_and_the_perplexity_the_library_computes()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, Text);
            using var model = GptModel.Load(CliRunner.EmbeddedModel);
            var expected = await Perplexity.ComputeAsync(model, model.Tokenizer!.Encode(Text, addSpecialTokens: false), 16);

            var json = (await CliRunner.RunAsync("perplexity", "--file", file, "--context", "16", "--json")).Json();

            Assert.Multiple(() =>
            {
                Assert.That(json.GetProperty("tokens").GetInt32(), Is.EqualTo(expected.Tokens));
                Assert.That(json.GetProperty("perplexity").GetDouble(), Is.EqualTo(expected.Value).Within(1e-9).Percent);
            });
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public async Task Quantize_embedding_writes_gatherblockquantized_that_generate_runs()
    {
        var output = Path.Combine(Path.GetTempPath(), "onnxgpt-cli-quantize-emb-" + Guid.NewGuid().ToString("N"));
        try
        {
            var json = (await CliRunner.RunAsync("quantize", "--model", CliRunner.EmbeddedModel, "--output", output, "--quantize-embedding", "--variant", "q4", "--json")).Json();
            var generated = await CliRunner.RunAsync("generate", "ROMEO:", "--model", output, "--variant", "q4", "--greedy", "--max-new-tokens", "8", "--json");

            Assert.Multiple(() =>
            {
                Assert.That(json.GetProperty("quantizedEmbedding").GetString(), Is.EqualTo("wte.weight"));
                Assert.That(json.GetProperty("graph").GetString(), Is.EqualTo(Path.Combine(output, "onnx", "model_q4.onnx")));
                Assert.That(generated.Json().GetProperty("tokenIds").GetArrayLength(), Is.EqualTo(8));
            });
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [Test]
    public async Task Quantize_writes_a_model_the_other_commands_run()
    {
        var output = Path.Combine(Path.GetTempPath(), "onnxgpt-cli-quantize-" + Guid.NewGuid().ToString("N"));
        try
        {
            var run = await CliRunner.RunAsync("quantize", "--model", CliRunner.EmbeddedModel, "--output", output, "--json");
            var json = run.Json();
            var generated = await CliRunner.RunAsync("generate", "ROMEO:", "--model", output, "--greedy", "--max-new-tokens", "8", "--json");

            Assert.Multiple(() =>
            {
                Assert.That(json.GetProperty("quantized").GetInt32(), Is.EqualTo(17));
                Assert.That(json.GetProperty("quantizedEmbedding").ValueKind, Is.EqualTo(System.Text.Json.JsonValueKind.Null));
                Assert.That(json.GetProperty("outputBytes").GetInt64(), Is.LessThan(json.GetProperty("sourceBytes").GetInt64() / 2));
                Assert.That(generated.Json().GetProperty("tokenIds").GetArrayLength(), Is.EqualTo(8));
            });
        }
        finally
        {
            if (Directory.Exists(output))
            {
                Directory.Delete(output, recursive: true);
            }
        }
    }

    [Test]
    public async Task Contradictory_or_bad_settings_are_usage_errors()
    {
        var both = await CliRunner.RunAsync("quantize", "--model", CliRunner.EmbeddedModel, "--output", Path.GetTempPath(), "--symmetric", "--asymmetric");
        var bits = await CliRunner.RunAsync("quantize", "--model", CliRunner.EmbeddedModel, "--output", Path.GetTempPath(), "--bits", "3");
        var noFile = await CliRunner.RunAsync("perplexity", "--file", "no-such-file.txt");

        Assert.Multiple(() =>
        {
            Assert.That(both.ExitCode, Is.EqualTo(2), both.ToString());
            Assert.That(both.Stderr, Does.Contain("--symmetric or --asymmetric"));
            Assert.That(bits.ExitCode, Is.EqualTo(2), bits.ToString());
            Assert.That(bits.Stderr, Does.Contain("Bits must be 4 or 8"));
            Assert.That(noFile.ExitCode, Is.EqualTo(2), noFile.ToString());
            Assert.That(noFile.Stderr, Does.Contain("no-such-file.txt"));
        });
    }
}
