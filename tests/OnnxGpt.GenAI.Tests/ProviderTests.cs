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
    public void The_cpu_overlay_carries_the_thread_choice_and_the_entry_session_config_entries_the_user_entries_winning()
    {
        var provider = new ExecutionProviderOptions("Cpu") { IntraOpNumThreads = 3, InterOpNumThreads = 1, EnableCpuMemArena = false };
        provider.SessionConfigEntries["session.dynamic_block_base"] = "4";
        provider.SessionConfigEntries["session.set_denormal_as_zero"] = "1";
        var threading = CpuThreading.Choose(provider.IntraOpNumThreads, provider.InterOpNumThreads, 2, provider.SessionConfigEntries);

        var overlay = GenAIGenerator.SessionOptionsOverlay(provider, threading);

        Assert.That(overlay, Is.EqualTo("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":3,\"inter_op_num_threads\":1,\"enable_cpu_mem_arena\":false,"
            + "\"session.intra_op.allow_spinning\":\"1\",\"session.dynamic_block_base\":\"4\",\"session.set_denormal_as_zero\":\"1\"}}}}"));
    }

    [Test]
    public void The_default_cpu_overlay_is_one_thread_per_available_core_spinning()
    {
        var overlay = GenAIGenerator.SessionOptionsOverlay(new ExecutionProviderOptions("Cpu"), CpuThreading.Choose(null, null, 2));

        Assert.That(overlay, Is.EqualTo("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":2,\"session.intra_op.allow_spinning\":\"1\"}}}}"));
    }

    [Test]
    public void A_gpu_entry_without_session_config_entries_has_no_overlay_and_one_with_entries_passes_them_alone()
    {
        var cuda = new ExecutionProviderOptions("Cuda");
        Assert.That(GenAIGenerator.SessionOptionsOverlay(cuda, null), Is.Null);

        cuda.SessionConfigEntries["session.disable_prepacking"] = "1";
        Assert.That(GenAIGenerator.SessionOptionsOverlay(cuda, null), Is.EqualTo("{\"model\":{\"decoder\":{\"session_options\":{\"session.disable_prepacking\":\"1\"}}}}"));
    }

    [Test]
    public void Cpu_session_config_entries_reach_onnxruntime_genai_session()
    {
        // An entry ONNX Runtime acts on at load: reading model.onnx as an ORT-format file fails, so the load failing proves the entry arrived.
        var options = new GptOptions { ModelPath = Fixtures.TinyShakespeare };
        var cpu = new ExecutionProviderOptions("Cpu");
        cpu.SessionConfigEntries["session.load_model_format"] = "ORT";
        options.ExecutionProviders.Add(cpu);

        var ex = Assert.Throws<ModelLoadException>(() => GenAIGenerator.Create(options));

        Assert.That(ex!.Message, Does.Contain("onnxruntime-genai cannot load the model"));
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
