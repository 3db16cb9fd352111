using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Hosting;

[TestFixture]
public sealed class GptServiceCollectionExtensionsTests
{
    [Test]
    public async Task AddGpt_registers_a_singleton_model_and_a_working_generator()
    {
        var services = new ServiceCollection();
        services.AddGpt(o => o.ModelPath = TestPaths.TinyShakespeare);
        await using var provider = services.BuildServiceProvider();

        var gpt = provider.GetRequiredService<IGptGenerator>();
        var result = await gpt.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 5 });
        var model = provider.GetRequiredService<GptModel>();

        Assert.Multiple(() =>
        {
            Assert.That(result.TokenIds, Is.EqualTo(new[] { 199, 41, 456, 322, 269 }));
            Assert.That(provider.GetRequiredService<GptModel>(), Is.SameAs(model));
            Assert.That(provider.GetRequiredService<IGptGenerator>(), Is.SameAs(gpt));
        });
    }

    [Test]
    public async Task AddGpt_binds_options_from_configuration_including_providers_as_strings_or_objects()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gpt:ModelPath"] = TestPaths.TinyShakespeare,
            ["Gpt:ExecutionProviders:0:Name"] = "Cuda",
            ["Gpt:ExecutionProviders:0:DeviceId"] = "1",
            ["Gpt:ExecutionProviders:1"] = "Cpu",
            ["Gpt:Generation:MaxNewTokens"] = "7",
            ["Gpt:Generation:DoSample"] = "false",
        }).Build();
        var services = new ServiceCollection();
        services.AddGpt(configuration.GetSection("Gpt"));
        await using var provider = services.BuildServiceProvider();

        var options = provider.GetRequiredService<IOptions<GptOptions>>().Value;
        var result = await provider.GetRequiredService<IGptGenerator>().GenerateAsync("ROMEO:");

        Assert.Multiple(() =>
        {
            Assert.That(options.ExecutionProviders.Select(p => p.ToString()), Is.EqualTo(new[] { "Cuda:1", "Cpu" }));
            Assert.That(provider.GetRequiredService<GptModel>().ExecutionProvider, Is.EqualTo("Cpu"));
            Assert.That(result.GeneratedTokenCount, Is.EqualTo(7));
            Assert.That(result.TokenIds, Is.EqualTo(new[] { 199, 41, 456, 322, 269, 275, 405 }));
        });
    }

    [Test]
    public async Task AddGpt_binds_the_variant_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Gpt:ModelPath"] = TestPaths.Hub("qwen3"),
            ["Gpt:Variant"] = "q4",
        }).Build();
        var services = new ServiceCollection();
        services.AddGpt(configuration.GetSection("Gpt"));
        await using var provider = services.BuildServiceProvider();

        var model = provider.GetRequiredService<GptModel>();

        Assert.Multiple(() =>
        {
            Assert.That(provider.GetRequiredService<IOptions<GptOptions>>().Value.Variant, Is.EqualTo("q4"));
            Assert.That(model.Info.Variant, Is.EqualTo("q4"));
            Assert.That(Path.GetFileName(model.Info.GraphPath), Is.EqualTo("model_q4.onnx"));
        });
    }

    [Test]
    public void A_variant_given_as_a_file_name_stops_the_host_naming_the_setting()
    {
        var services = new ServiceCollection();
        services.AddGpt(o =>
        {
            o.ModelPath = TestPaths.Hub("qwen3");
            o.Variant = "model_q4.onnx";
        });
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.That(ex!.Message, Does.Contain("Variant 'model_q4.onnx' is a file name"));
    }

    [Test]
    public void Missing_model_path_stops_the_host_naming_the_setting()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddGpt(builder.Configuration.GetSection("NoSuchSection"));
        using var host = builder.Build();

        var ex = Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.That(ex!.Message, Does.Contain("ModelPath is required"));
    }

    [Test]
    public void Negative_temperature_stops_the_host_naming_the_setting()
    {
        var services = new ServiceCollection();
        services.AddGpt(o =>
        {
            o.ModelPath = TestPaths.TinyShakespeare;
            o.Generation.Temperature = -1;
        });
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.That(ex!.Message, Does.Contain("Temperature must be"));
    }

    [Test]
    public void Unknown_execution_provider_is_a_validation_error()
    {
        var services = new ServiceCollection();
        services.AddGpt(o =>
        {
            o.ModelPath = TestPaths.TinyShakespeare;
            o.ExecutionProviders.Add(new("Tpu"));
        });
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.That(ex!.Message, Does.Contain("'Tpu'"));
    }

    [Test]
    public async Task Keyed_models_are_separate_and_resolve_by_key()
    {
        var services = new ServiceCollection();
        services.AddKeyedGpt("shakespeare", o => o.ModelPath = TestPaths.TinyShakespeare);
        services.AddKeyedGpt("llama", o => o.ModelPath = TestPaths.Fixture("tiny-llama-shakespeare"));
        await using var provider = services.BuildServiceProvider();

        var shakespeare = provider.GetRequiredKeyedService<IGptGenerator>("shakespeare");
        var llama = provider.GetRequiredKeyedService<IGptGenerator>("llama");

        Assert.Multiple(() =>
        {
            Assert.That(shakespeare.ModelInfo.KeyValueHeads, Is.EqualTo(8));
            Assert.That(llama.ModelInfo.KeyValueHeads, Is.EqualTo(2));
            Assert.That(provider.GetService<IGptGenerator>(), Is.Null);
        });
    }

    [Test]
    public void The_container_disposes_the_model()
    {
        var services = new ServiceCollection();
        services.AddGpt(o => o.ModelPath = TestPaths.TinyShakespeare);
        var provider = services.BuildServiceProvider();
        var gpt = provider.GetRequiredService<IGptGenerator>();

        provider.Dispose();

        Assert.ThrowsAsync<ObjectDisposedException>(() => gpt.GenerateAsync("ROMEO:"));
    }
}
