using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OnnxGpt.Chat;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;
using OnnxGpt.Tests.Chat;

namespace OnnxGpt.Tests.Hosting;

/// <summary>
/// Composition the Microsoft.Extensions.AI way: generator layers (<see cref="GptBuilder.Use(Func{IGptGenerator, IGptGenerator})"/>),
/// the chat client registered through <c>AddChatClient</c> with its <see cref="ChatClientBuilder"/> exposed, and
/// backends named by string, told which options instance they serve. A fake backend stands in for the model.
/// </summary>
[TestFixture]
public sealed class GptBuilderCompositionTests
{
    [Test]
    public async Task Layers_wrap_the_generator_first_added_outermost_and_the_chat_client_runs_on_them()
    {
        var calls = new List<string>();
        var services = FakeBackend(out var factory);
        services.AddGpt(o => { o.ModelPath = TestPaths.TinyShakespeare; o.Backend = "fake"; })
            .Use(inner => new Recording(inner, "outer", calls))
            .Use((inner, sp) => new Recording(inner, "inner", calls));
        await using var provider = services.BuildServiceProvider();

        var generator = provider.GetRequiredService<IGptGenerator>();
        var response = await provider.GetRequiredService<IChatClient>().GetResponseAsync("ROMEO:");

        Assert.Multiple(() =>
        {
            Assert.That(generator, Is.InstanceOf<Recording>());
            Assert.That(((Recording)generator).Name, Is.EqualTo("outer"));
            Assert.That(generator.GetService(typeof(FakeGenerator)), Is.SameAs(factory.Created.Single()), "GetService reaches the backend through the layers");
            Assert.That(calls, Is.EqualTo(new[] { "outer", "inner" }));
            Assert.That(response.Text, Is.EqualTo("Hello world"));
        });
    }

    [Test]
    public async Task The_chat_client_builder_takes_middleware_and_GetService_finds_the_GptChatClient_through_it()
    {
        var services = FakeBackend(out _);
        services.AddLogging();
        var seen = 0;
        services.AddGpt(o => { o.ModelPath = TestPaths.TinyShakespeare; o.Backend = "Fake"; }).ChatClient
            .UseLogging()
            .Use((messages, options, next, cancellationToken) =>
            {
                seen++;
                return next(messages, options, cancellationToken);
            });
        await using var provider = services.BuildServiceProvider();

        var chat = provider.GetRequiredService<IChatClient>();
        var response = await chat.GetResponseAsync("ROMEO:");

        Assert.Multiple(() =>
        {
            Assert.That(chat, Is.Not.InstanceOf<GptChatClient>());
            Assert.That(chat.GetService<GptChatClient>(), Is.Not.Null);
            Assert.That(chat.GetService<GptChatClient>()!.Generator, Is.SameAs(provider.GetRequiredService<IGptGenerator>()));
            Assert.That(seen, Is.EqualTo(1));
            Assert.That(response.Text, Is.EqualTo("Hello world"));
        });
    }

    [Test]
    public async Task A_keyed_model_has_its_own_chat_client_builder_and_its_factory_is_told_the_options_name()
    {
        var services = FakeBackend(out var factory);
        var seen = 0;
        services.AddKeyedGpt("bard", o => { o.ModelPath = TestPaths.TinyShakespeare; o.Backend = "FAKE"; }).ChatClient.Use((messages, options, next, cancellationToken) =>
        {
            seen++;
            return next(messages, options, cancellationToken);
        });
        services.AddKeyedGpt("poet", o => { o.ModelPath = TestPaths.TinyShakespeare; o.Backend = "fake"; });
        await using var provider = services.BuildServiceProvider();

        await provider.GetRequiredKeyedService<IChatClient>("bard").GetResponseAsync("ROMEO:");
        await provider.GetRequiredKeyedService<IChatClient>("poet").GetResponseAsync("ROMEO:");

        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(1), "only bard's client has the middleware");
            Assert.That(provider.GetRequiredKeyedService<IChatClient>("poet"), Is.InstanceOf<GptChatClient>());
            Assert.That(factory.OptionsNames, Is.EqualTo(new[] { "bard", "poet" }));
            Assert.That(provider.GetService<IChatClient>(), Is.Null);
        });
    }

    [Test]
    public void Calling_AddGpt_twice_shares_one_registration_and_an_earlier_chat_client_wins()
    {
        var services = FakeBackend(out _);
        var first = services.AddGpt(o => { o.ModelPath = TestPaths.TinyShakespeare; o.Backend = "fake"; });
        var second = services.AddGpt(o => o.ModelPath = "unused");
        var other = new ServiceCollection();
        other.AddSingleton<IChatClient>(new FakeChatClient());
        var late = other.AddGpt(o => { o.ModelPath = TestPaths.TinyShakespeare; o.Backend = "fake"; });

        Assert.Multiple(() =>
        {
            Assert.That(second.ChatClient, Is.SameAs(first.ChatClient));
            Assert.That(services.Count(d => d.ServiceType == typeof(IChatClient)), Is.EqualTo(1));
            Assert.That(() => late.ChatClient, Throws.InvalidOperationException.With.Message.Contains("registered before AddGpt"));
        });
    }

    [Test]
    public async Task An_unknown_backend_name_fails_naming_it()
    {
        var services = FakeBackend(out _);
        services.AddGpt(o => { o.ModelPath = TestPaths.TinyShakespeare; o.Backend = "nonesuch"; });
        await using var provider = services.BuildServiceProvider();

        Assert.That(() => provider.GetRequiredService<IGptGenerator>(), Throws.InvalidOperationException.With.Message.Contains("'nonesuch'"));
    }

    private static ServiceCollection FakeBackend(out FakeFactory factory)
    {
        var services = new ServiceCollection();
        factory = new FakeFactory();
        services.AddSingleton<IGptBackendFactory>(factory);
        return services;
    }

    private sealed class FakeFactory : IGptBackendFactory
    {
        public string Name => "Fake";

        public List<string> OptionsNames { get; } = [];

        public List<FakeGenerator> Created { get; } = [];

        public IGptGenerator Create(IServiceProvider services, string optionsName, GptOptions options)
        {
            OptionsNames.Add(optionsName);
            var generator = new FakeGenerator();
            Created.Add(generator);
            return generator;
        }
    }

    private sealed class Recording(IGptGenerator inner, string name, List<string> calls) : DelegatingGptGenerator(inner)
    {
        public string Name => name;

        public override async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            calls.Add(name);
            await foreach (var token in base.StreamAsync(prompt, options, cancellationToken))
            {
                yield return token;
            }
        }
    }

    private sealed class FakeChatClient : IChatClient
    {
        public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            Task.FromResult(new ChatResponse(new ChatMessage(ChatRole.Assistant, "fake")));

        public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public object? GetService(Type serviceType, object? serviceKey = null) => null;

        public void Dispose()
        {
        }
    }
}
