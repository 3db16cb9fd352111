using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.GenAI.Tests;

public class HostingTests
{
    private static IConfiguration Configuration(Dictionary<string, string?> values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Test]
    public async Task UseOnnxRuntimeGenAI_resolves_a_GenAIGenerator_that_streams()
    {
        var services = new ServiceCollection();
        services.AddGpt(o => o.ModelPath = Fixtures.TinyShakespeare).UseOnnxRuntimeGenAI();
        await using var provider = services.BuildServiceProvider();

        var generator = provider.GetRequiredService<IGptGenerator>();
        var result = await generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 10 });

        Assert.That(generator, Is.InstanceOf<GenAIGenerator>());
        Assert.That(provider.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<GptOptions>>().CurrentValue.Backend, Is.EqualTo(GptBackend.GenAI));
        Assert.That(result.TokenIds, Is.EqualTo(Fixtures.Greedy("s", Fixtures.TinyShakespeare).First().GreedyIds.Take(10)));
    }

    [Test]
    public async Task Backend_GenAI_from_configuration_works_once_the_backend_is_registered()
    {
        var services = new ServiceCollection();
        services.AddGpt(Configuration(new()
        {
            ["ModelPath"] = Fixtures.Gpt2Tiny,
            ["Backend"] = "GenAI",
            ["ExecutionProviders:0"] = "Cuda",
            ["ExecutionProviders:1"] = "Cpu",
        }));
        services.AddOnnxRuntimeGenAIBackend();
        services.AddOnnxRuntimeGenAIBackend();
        await using var provider = services.BuildServiceProvider();

        var generator = provider.GetRequiredService<IGptGenerator>();

        Assert.That(generator, Is.InstanceOf<GenAIGenerator>());
        Assert.That(((GenAIGenerator)generator).ExecutionProvider, Is.EqualTo("Cpu"));
        Assert.That(services.Count(d => d.ServiceType == typeof(IGptBackendFactory)), Is.EqualTo(1));
    }

    [Test]
    public async Task Backend_GenAI_without_the_backend_registered_says_what_to_call()
    {
        var services = new ServiceCollection();
        services.AddGpt(Configuration(new() { ["ModelPath"] = Fixtures.Gpt2Tiny, ["Backend"] = "GenAI" }));
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IGptGenerator>());

        Assert.That(ex!.Message, Does.Contain("UseOnnxRuntimeGenAI"));
    }

    [Test]
    public async Task Keyed_models_choose_their_backend_each()
    {
        var services = new ServiceCollection();
        services.AddKeyedGpt("genai", o => o.ModelPath = Fixtures.TinyShakespeare).UseOnnxRuntimeGenAI(g => g.ConfigOverlay = "{\"search\":{\"max_length\":256}}");
        services.AddKeyedGpt("core", o => o.ModelPath = Fixtures.TinyShakespeare);
        await using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetRequiredKeyedService<IGptGenerator>("genai"), Is.InstanceOf<GenAIGenerator>());
        Assert.That(provider.GetRequiredKeyedService<IGptGenerator>("core"), Is.InstanceOf<GptGenerator>());
    }

    [Test]
    public async Task GenAI_options_of_one_model_reach_its_generator()
    {
        var services = new ServiceCollection();
        services.AddGpt(o => o.ModelPath = Fixtures.TinyShakespeare)
            .UseOnnxRuntimeGenAI(g => g.Adapters.Add(new GenAIAdapterOptions("missing", "no-such.onnx_adapter")));
        await using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<ModelLoadException>(() => provider.GetRequiredService<IGptGenerator>());

        Assert.That(ex!.Message, Does.Contain("missing").And.Contain("no-such.onnx_adapter"));
    }

    [Test]
    public async Task MaxConcurrentRequests_wraps_the_GenAI_generator()
    {
        var services = new ServiceCollection();
        services.AddGpt(o =>
        {
            o.ModelPath = Fixtures.TinyShakespeare;
            o.MaxConcurrentRequests = 1;
        }).UseOnnxRuntimeGenAI();
        await using var provider = services.BuildServiceProvider();

        var generator = provider.GetRequiredService<IGptGenerator>();
        var result = await generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 3 });

        Assert.That(generator, Is.InstanceOf<ConcurrencyLimitedGenerator>());
        Assert.That(result.GeneratedTokenCount, Is.EqualTo(3));
    }
}
