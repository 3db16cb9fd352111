using Microsoft.Extensions.Logging;
using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Reliability;

/// <summary>Bad model folders and bad requests give a clear exception or finish reason, and lose nothing.</summary>
[TestFixture]
public sealed class BadInputTests
{
    [Test]
    public void A_graph_whose_external_data_file_is_missing_names_the_problem()
    {
        using var dir = new TempDirectory();
        File.Copy(Path.Combine(AppContext.BaseDirectory, "models", "bench", "gpt2-124m", "model.onnx"), dir.File("model.onnx"));

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("'model.onnx' keeps its weights in the external data file 'model.onnx.data', which is missing"));
    }

    [Test]
    public void Configuration_that_contradicts_the_graph_loses_with_a_warning()
    {
        using var dir = new TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.TinyShakespeare))
        {
            File.Copy(file, dir.File(Path.GetFileName(file)));
        }

        File.WriteAllText(dir.File("config.json"), """{ "model_type": "gpt2", "vocab_size": 1000, "n_positions": 256, "n_head": 8, "n_embd": 256 }""");
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));

        using var model = GptModel.Load(dir.Path, factory);

        Assert.Multiple(() =>
        {
            Assert.That(model.Info.VocabularySize, Is.EqualTo(2048));
            Assert.That(logs.Warnings, Has.Some.Contains("vocab_size is 1000 in the configuration files but 2048 in the graph; the graph wins"));
        });
    }

    [Test]
    public async Task A_huge_stop_sequence_neither_hangs_nor_matches()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var huge = new string('x', 100_000);

        var result = await GptGenerator.Create(model).GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 20, StopSequences = [huge] });

        Assert.Multiple(() =>
        {
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Length));
            Assert.That(result.GeneratedTokenCount, Is.EqualTo(20));
        });
    }

    [Test]
    public async Task A_custom_stage_that_throws_fails_its_request_and_the_model_keeps_serving()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);

        var ex = Assert.ThrowsAsync<InvalidOperationException>(() =>
            generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 10, CustomStages = [new ThrowingStage(afterCalls: 3)] }));
        var next = await generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 5 });

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Is.EqualTo("stage failed on call 3"));
            Assert.That(next.TokenIds, Is.EqualTo(new[] { 199, 41, 456, 322, 269 }));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public void A_prompt_with_a_lone_surrogate_is_an_argument_error()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);

        var ex = Assert.ThrowsAsync<ArgumentException>(() => GptGenerator.Create(model).GenerateAsync("ROMEO: \ud800"));

        Assert.That(ex!.ParamName, Is.EqualTo("text"));
    }

    [TestCase(-5)]
    [TestCase(0)]
    public void Max_new_tokens_below_one_names_the_setting(int value)
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);

        var ex = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => GptGenerator.Create(model).GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = value }));

        Assert.That(ex!.ParamName, Is.EqualTo(nameof(GenerationOptions.MaxNewTokens)));
    }

    private sealed class ThrowingStage(int afterCalls) : ISamplingStage
    {
        private int _calls;

        public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
        {
            if (++_calls == afterCalls)
            {
                throw new InvalidOperationException($"stage failed on call {afterCalls}");
            }
        }
    }
}
