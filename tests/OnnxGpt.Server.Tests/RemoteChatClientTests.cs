using GenericHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OnnxGpt.Server.Tests;

/// <summary>
/// The path for apps that outgrow one machine: the same IChatClient code, configured to a remote OpenAI-compatible
/// engine through Microsoft.Extensions.AI.OpenAI, here pointed at examples/OnnxGpt.Server running on loopback.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class RemoteChatClientTests
{
    private ServerProcess _server = null!;
    private string _endpoint = string.Empty;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartAsync();
        _endpoint = _server.Endpoint;
    }

    [OneTimeTearDown]
    public void StopServer() => _server.Dispose();

    [Test]
    public async Task A_remote_chat_client_from_configuration_answers_like_the_local_model()
    {
        using var remoteServices = Services(new()
        {
            ["Chat:Remote:Endpoint"] = _endpoint + "/v1",
            ["Chat:Remote:Model"] = "tiny-shakespeare",
        });
        using var localServices = Services(new()
        {
            ["Gpt:ModelPath"] = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare"),
        });
        var remote = remoteServices.GetRequiredService<IChatClient>();
        var local = localServices.GetRequiredService<IChatClient>();
        ChatMessage[] messages = [new(ChatRole.User, "ROMEO:")];
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };

        var remoteReply = await remote.GetResponseAsync(messages, options);
        var localReply = await local.GetResponseAsync(messages, options);
        var streamed = string.Concat(await remote.GetStreamingResponseAsync(messages, options).Select(u => u.Text).ToListAsync());

        Assert.Multiple(() =>
        {
            Assert.That(remote.GetType().Name, Is.Not.EqualTo(local.GetType().Name), "the remote client is OpenAI's, not OnnxGpt's");
            Assert.That(remoteReply.Text, Is.EqualTo(localReply.Text));
            Assert.That(remoteReply.Text, Is.Not.Empty);
            Assert.That(streamed, Is.EqualTo(localReply.Text));
            Assert.That(remoteReply.FinishReason, Is.EqualTo(ChatFinishReason.Length));
            Assert.That(remoteReply.Usage?.OutputTokenCount, Is.EqualTo(12));
        });
    }

    [Test]
    public void A_remote_endpoint_without_a_model_is_a_clear_error()
    {
        var services = new ServiceCollection();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Chat:Remote:Endpoint"] = _endpoint + "/v1" }).Build();

        var ex = Assert.Throws<InvalidOperationException>(() => services.AddChat(configuration));

        Assert.That(ex!.Message, Does.Contain("Chat:Remote:Model is required"));
    }

    private static ServiceProvider Services(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddChat(configuration);
        return services.BuildServiceProvider();
    }
}
