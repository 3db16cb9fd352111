using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
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
    private Process? _server;
    private string _endpoint = string.Empty;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "OnnxGpt.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("The repository root (OnnxGpt.sln) is not above the test folder.");
        }

        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var serverFolder = Path.Combine(root, "examples", "OnnxGpt.Server", "bin", configuration, "net10.0");
        var port = FreePort();
        _endpoint = $"http://127.0.0.1:{port}";
        _server = Process.Start(new ProcessStartInfo("dotnet", ["OnnxGpt.Server.dll", "--urls", _endpoint])
        {
            WorkingDirectory = serverFolder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        _server.OutputDataReceived += (_, _) => { };
        _server.ErrorDataReceived += (_, _) => { };
        _server.BeginOutputReadLine();
        _server.BeginErrorReadLine();

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 120; i++)
        {
            try
            {
                if ((await http.GetAsync(new Uri(_endpoint + "/health"))).IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Not answering yet.
            }

            Assert.That(_server.HasExited, Is.False, "the server exited during start-up");
            await Task.Delay(500);
        }

        Assert.Fail($"the server did not answer /health on {_endpoint}");
    }

    [OneTimeTearDown]
    public void StopServer()
    {
        if (_server is { HasExited: false })
        {
            _server.Kill(entireProcessTree: true);
            _server.WaitForExit(10_000);
        }

        _server?.Dispose();
    }

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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
