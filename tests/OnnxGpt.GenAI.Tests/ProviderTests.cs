using Microsoft.Extensions.Logging;
using OnnxGpt.Providers;
using OnnxGpt.Generation;

namespace OnnxGpt.GenAI.Tests;

/// <summary>These machines have onnxruntime-genai's CPU natives only, so CUDA cannot load.</summary>
public class ProviderTests
{
    [Test]
    public void Cuda_then_Cpu_falls_back_to_the_cpu_with_a_warning_naming_the_reason()
    {
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var options = new GptOptions { ModelPath = Fixtures.TinyShakespeare };
        options.ExecutionProviders.Add(new ExecutionProviderOptions("Cuda"));
        options.ExecutionProviders.Add(new ExecutionProviderOptions("Cpu"));

        using var generator = GenAIGenerator.Create(options, factory);

        var warning = logs.Entries.Single(e => e.Level == LogLevel.Warning);
        Assert.That(generator.ExecutionProvider, Is.EqualTo("Cpu"));
        Assert.That(warning.Message, Does.Contain("Cuda").And.Contain("Trying the next one"));
    }

    [Test]
    public void Cuda_alone_throws_ExecutionProviderException_listing_it()
    {
        var ex = Assert.Throws<ExecutionProviderException>(() => Fixtures.Create(Fixtures.TinyShakespeare, "Cuda"));

        Assert.That(ex!.Failures.Select(f => f.Key), Is.EqualTo(new[] { "Cuda" }));
        Assert.That(ex.Message, Does.Contain("Cuda"));
    }

    [Test]
    public void Cuda_and_DirectML_both_failing_are_each_listed()
    {
        var ex = Assert.Throws<ExecutionProviderException>(() => Fixtures.Create(Fixtures.TinyShakespeare, "Cuda", "DirectML"));

        Assert.That(ex!.Failures.Select(f => f.Key), Is.EqualTo(new[] { "Cuda", "DirectML" }));
    }

    [Test]
    public void RequireExecutionProvider_stops_the_fallback()
    {
        var options = new GptOptions { ModelPath = Fixtures.TinyShakespeare, RequireExecutionProvider = true };
        options.ExecutionProviders.Add(new ExecutionProviderOptions("Cuda"));
        options.ExecutionProviders.Add(new ExecutionProviderOptions("Cpu"));

        var ex = Assert.Throws<ExecutionProviderException>(() => GenAIGenerator.Create(options));

        Assert.That(ex!.Failures.Select(f => f.Key), Is.EqualTo(new[] { "Cuda" }));
        Assert.That(ex.Message, Does.Contain("RequireExecutionProvider"));
    }

    [Test]
    public async Task Cpu_entry_settings_and_thread_counts_reach_the_session()
    {
        var options = new GptOptions { ModelPath = Fixtures.TinyShakespeare, IntraOpNumThreads = 1 };
        options.ExecutionProviders.Add(new ExecutionProviderOptions("Cpu") { IntraOpNumThreads = 2, InterOpNumThreads = 1, EnableCpuMemArena = false });

        using var generator = GenAIGenerator.Create(options);
        var result = await generator.GenerateAsync("ROMEO:", new Generation.GenerationOptions { DoSample = false, MaxNewTokens = 8 });

        Assert.That(result.TokenIds, Is.EqualTo(Fixtures.Greedy("s", Fixtures.TinyShakespeare).First().GreedyIds.Take(8)));
    }

    [Test]
    public void A_folder_without_genai_config_is_a_ModelLoadException_that_says_so()
    {
        var directory = Directory.CreateTempSubdirectory("onnxgpt-genai-");
        try
        {
            var ex = Assert.Throws<ModelLoadException>(() => Fixtures.Create(directory.FullName));
            Assert.That(ex!.Message, Does.Contain("genai_config.json"));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Test]
    public void A_missing_folder_is_a_ModelLoadException()
    {
        Assert.Throws<ModelLoadException>(() => Fixtures.Create(Path.Combine(Path.GetTempPath(), "no-such-onnxgpt-model")));
    }

    [Test]
    public void Invalid_options_are_an_argument_exception()
    {
        Assert.Throws<ArgumentException>(() => GenAIGenerator.Create(new GptOptions()));
    }
}
