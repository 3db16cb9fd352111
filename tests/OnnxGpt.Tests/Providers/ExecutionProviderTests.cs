using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OnnxGpt.Providers;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Providers;

[TestFixture]
public sealed class ExecutionProviderTests
{
    [Test]
    public void Fallback_logs_the_reason_once_at_warning_and_serves_on_the_next_provider()
    {
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var options = new GptOptions { ModelPath = TestPaths.TinyShakespeare };
        options.ExecutionProviders.Add(new(ExecutionProviderOptions.Cuda));
        options.ExecutionProviders.Add(new(ExecutionProviderOptions.Cpu));

        using var model = GptModel.Load(options, factory);

        var warnings = logs.Messages.Where(m => m.Level == LogLevel.Warning).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(model.ExecutionProvider, Is.EqualTo("Cpu"));
            Assert.That(warnings, Has.Count.EqualTo(1));
            Assert.That(warnings[0].Text, Does.StartWith("Execution provider Cuda cannot run").And.Contain("CPU-only Microsoft.ML.OnnxRuntime package"));
        });
    }

    [Test]
    public void Require_fails_clearly_without_trying_the_rest()
    {
        var options = new GptOptions { ModelPath = TestPaths.TinyShakespeare, RequireExecutionProvider = true };
        options.ExecutionProviders.Add(new(ExecutionProviderOptions.Cuda) { DeviceId = 1 });
        options.ExecutionProviders.Add(new(ExecutionProviderOptions.Cpu));

        var ex = Assert.Throws<ExecutionProviderException>(() => GptModel.Load(options));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Failures.Select(f => f.Key), Is.EqualTo(new[] { "Cuda:1" }));
            Assert.That(ex.Message, Does.StartWith("The required execution provider Cuda:1 cannot run the model").And.Contain("RequireExecutionProvider"));
        });
    }

    [Test]
    public void Cpu_serves_only_when_listed()
    {
        var options = new GptOptions { ModelPath = TestPaths.TinyShakespeare };
        options.ExecutionProviders.Add(new(ExecutionProviderOptions.DirectML));

        var ex = Assert.Throws<ExecutionProviderException>(() => GptModel.Load(options));

        Assert.That(ex!.Failures.Select(f => f.Key), Is.EqualTo(new[] { "DirectML" }));
    }

    [TestCase(
        "Failed to load library libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory",
        "a library it needs cannot be loaded: libcublasLt.so.13")]
    [TestCase(
        "/onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1778 onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library libonnxruntime_providers_cuda.so with error: libcudnn.so.9: cannot open shared object file: No such file or directory",
        "a library it needs cannot be loaded: libcudnn.so.9")]
    [TestCase("[ErrorCode:Fail] CUDA execution provider is not enabled in this build.", "built without the Cuda provider")]
    public void The_reason_names_the_missing_library(string onnxRuntimeMessage, string expected)
    {
        var reason = SessionFactory.Describe(ExecutionProviderOptions.Cuda, new InvalidOperationException(onnxRuntimeMessage));

        Assert.That(reason, Does.Contain(expected));
    }

    [Test]
    public void Configuration_binds_provider_entries_with_their_options()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gpt:ModelPath"] = TestPaths.TinyShakespeare,
            ["Gpt:RequireExecutionProvider"] = "false",
            ["Gpt:ExecutionProviders:0:Name"] = "Cuda",
            ["Gpt:ExecutionProviders:0:DeviceId"] = "2",
            ["Gpt:ExecutionProviders:0:GpuMemoryLimit"] = "2147483648",
            ["Gpt:ExecutionProviders:0:ArenaExtendStrategy"] = "kSameAsRequested",
            ["Gpt:ExecutionProviders:0:CudnnConvAlgoSearch"] = "HEURISTIC",
            ["Gpt:ExecutionProviders:0:CopyInDefaultStream"] = "true",
            ["Gpt:ExecutionProviders:1:Name"] = "Cpu",
            ["Gpt:ExecutionProviders:1:IntraOpNumThreads"] = "1",
            ["Gpt:ExecutionProviders:1:EnableCpuMemArena"] = "false",
            ["Gpt:ExecutionProviders:1:SessionConfigEntries:session.intra_op.allow_spinning"] = "0",
        }).Build();
        var services = new ServiceCollection();
        services.AddGpt(configuration.GetSection("Gpt"));
        using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<GptOptions>>().Value;
        var cuda = options.ExecutionProviders[0];

        Assert.Multiple(() =>
        {
            Assert.That(cuda.CudaProviderOptions(), Is.EqualTo(new Dictionary<string, string>
            {
                ["device_id"] = "2",
                ["gpu_mem_limit"] = "2147483648",
                ["arena_extend_strategy"] = "kSameAsRequested",
                ["cudnn_conv_algo_search"] = "HEURISTIC",
                ["do_copy_in_default_stream"] = "1",
            }));
            Assert.That(options.ExecutionProviders[1].IntraOpNumThreads, Is.EqualTo(1));
            Assert.That(options.ExecutionProviders[1].SessionConfigEntries, Is.EqualTo(new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0" }));
            Assert.That(provider.GetRequiredService<GptModel>().ExecutionProvider, Is.EqualTo("Cpu"));
            Assert.That(provider.GetRequiredService<GptModel>().Threading.AllowSpinning, Is.False, "the entry's session config shows in the choice");
        });
    }

    [TestCase("Tpu", "'Tpu' is not a known provider; use Cuda, DirectML or Cpu.")]
    [TestCase("Cpu", "Cpu: GpuMemoryLimit, ArenaExtendStrategy, CudnnConvAlgoSearch and CopyInDefaultStream apply to Cuda only.")]
    public void Invalid_entries_are_validation_errors_naming_the_valid_values(string name, string expected)
    {
        var options = new GptOptions { ModelPath = TestPaths.TinyShakespeare };
        options.ExecutionProviders.Add(new(name) { GpuMemoryLimit = name == "Cpu" ? 1 : null });

        var result = new GptOptionsValidator().Validate(null, options);

        Assert.That(result.FailureMessage, Does.Contain("ExecutionProviders[0]: " + expected));
    }

    [Test]
    public void Diagnose_reports_cpu_loading_and_gpu_providers_with_reasons()
    {
        var report = ExecutionProviderDiagnostics.Diagnose(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"));

        Assert.Multiple(() =>
        {
            Assert.That(report.OnnxRuntimeVersion, Is.EqualTo("1.31.1"));
            Assert.That(report.NativePackage, Is.EqualTo("Microsoft.ML.OnnxRuntime (CPU)"));
            Assert.That(report.Providers.Select(p => p.Name), Is.EqualTo(new[] { "Cpu", "Cuda", "DirectML" }));
            Assert.That(report.Providers[0].Loads, Is.True);
            Assert.That(report.Providers[1].Loads, Is.False);
            Assert.That(report.Providers[1].Reason, Does.Contain("built without the Cuda provider"));
            Assert.That(report.Devices, Has.Some.StartsWith("CPUExecutionProvider on CPU"));
        });
    }
}
