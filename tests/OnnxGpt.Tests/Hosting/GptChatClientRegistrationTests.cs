using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OnnxGpt.Chat;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Hosting;

[TestFixture]
public sealed class GptChatClientRegistrationTests
{
    private static readonly ChatMessage[] Romeo = [new(ChatRole.User, "ROMEO:")];

    [Test]
    public async Task AddGpt_registers_a_chat_client_over_the_registered_generator()
    {
        var services = new ServiceCollection();
        services.AddGpt(o =>
        {
            o.ModelPath = TestPaths.TinyShakespeare;
            o.Generation.StopSequences = ["\n\n"];
        });
        await using var provider = services.BuildServiceProvider();

        var chat = provider.GetRequiredService<IChatClient>();
        var response = await chat.GetResponseAsync(Romeo, new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });

        Assert.Multiple(() =>
        {
            Assert.That(chat, Is.InstanceOf<GptChatClient>());
            Assert.That(provider.GetRequiredService<IChatClient>(), Is.SameAs(chat));
            Assert.That(chat.GetService<IGptGenerator>(), Is.SameAs(provider.GetRequiredService<IGptGenerator>()));
            Assert.That(chat.GetService<ChatClientMetadata>()?.DefaultModelId, Is.EqualTo("tiny-shakespeare"));
            Assert.That(((GptChatClient)chat).ToGenerationOptions(null).StopSequences, Is.EqualTo(new[] { "\n\n", "\nUser:" }), "the application's stop sequences are the default");
            Assert.That(response.ModelId, Is.EqualTo("tiny-shakespeare"));
            Assert.That(response.Usage?.OutputTokenCount, Is.GreaterThan(0));
        });
    }

    [Test]
    public async Task AddKeyedGpt_registers_a_keyed_chat_client_configured_with_ConfigureChat()
    {
        var services = new ServiceCollection();
        services.AddKeyedGpt("bard", o => o.ModelPath = TestPaths.TinyShakespeare)
            .ConfigureChat(o =>
            {
                o.TemplateName = "chatml";
                o.ModelId = "bard-1";
            });
        await using var provider = services.BuildServiceProvider();

        var chat = (GptChatClient)provider.GetRequiredKeyedService<IChatClient>("bard");

        Assert.Multiple(() =>
        {
            Assert.That(chat.Template, Is.InstanceOf<ChatMLTemplate>());
            Assert.That(chat.ModelId, Is.EqualTo("bard-1"));
            Assert.That(chat.Generator, Is.SameAs(provider.GetRequiredKeyedService<IGptGenerator>("bard")));
            Assert.That(provider.GetService<IChatClient>(), Is.Null);
        });
    }

    [Test]
    public async Task A_chat_client_registered_first_is_kept()
    {
        var services = new ServiceCollection();
        using var mine = new GptChatClient(new Chat.FakeGenerator());
        services.AddSingleton<IChatClient>(mine);
        services.AddGpt(o => o.ModelPath = TestPaths.TinyShakespeare);
        await using var provider = services.BuildServiceProvider();

        Assert.That(provider.GetRequiredService<IChatClient>(), Is.SameAs(mine));
    }

    [Test]
    public async Task Middleware_composes_over_the_registered_client()
    {
        var services = new ServiceCollection();
        services.AddGpt(o => o.ModelPath = TestPaths.TinyShakespeare);
        await using var provider = services.BuildServiceProvider();
        using var counting = new CountingChatClient(provider.GetRequiredService<IChatClient>());

        var response = await counting.GetResponseAsync(Romeo, new ChatOptions { Temperature = 0, MaxOutputTokens = 4 });
        var updates = 0;
        await foreach (var update in counting.GetStreamingResponseAsync(Romeo, new ChatOptions { Temperature = 0, MaxOutputTokens = 4 }))
        {
            updates++;
        }

        Assert.Multiple(() =>
        {
            Assert.That(counting.Calls, Is.EqualTo(2));
            Assert.That(response.Text, Is.Not.Empty);
            Assert.That(updates, Is.GreaterThan(0));
            Assert.That(counting.GetService<GptChatClient>(), Is.Not.Null, "GetService reaches through the middleware");
            Assert.That(counting.GetService<ChatClientMetadata>()?.ProviderName, Is.EqualTo("OnnxGpt"));
        });
    }

    /// <summary>Middleware as ChatClientBuilder composes it: a DelegatingChatClient.</summary>
    private sealed class CountingChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public int Calls { get; private set; }

        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls++;
            return base.GetResponseAsync(messages, options, cancellationToken);
        }

        public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            Calls++;
            return base.GetStreamingResponseAsync(messages, options, cancellationToken);
        }
    }
}
