using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OnnxGpt.Server.Tests;

/// <summary>examples/OnnxGpt.Server started from its build output on a free loopback port, stopped on dispose.</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output;

    private ServerProcess(Process process, StringBuilder output, string endpoint)
    {
        _process = process;
        _output = output;
        Endpoint = endpoint;
    }

    /// <summary>The server's base address, e.g. http://127.0.0.1:40123.</summary>
    public string Endpoint { get; }

    /// <summary>What the server has written so far to its standard output and error, line by line.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<ServerProcess> StartAsync(params string[] extraArguments)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "OnnxGpt.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("The repository root (OnnxGpt.sln) is not above the test folder.");
        }

        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var folder = Path.Combine(root, "examples", "OnnxGpt.Server", "bin", configuration, "net10.0");
        var endpoint = $"http://127.0.0.1:{FreePort()}";
        var process = Process.Start(new ProcessStartInfo("dotnet", ["OnnxGpt.Server.dll", "--urls", endpoint, .. extraArguments])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = new StringBuilder();
        void Capture(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is { } line)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }

        process.OutputDataReceived += Capture;
        process.ErrorDataReceived += Capture;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, output, endpoint);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 120; i++)
        {
            try
            {
                if ((await http.GetAsync(new Uri(endpoint + "/health"))).IsSuccessStatusCode)
                {
                    return server;
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

            if (process.HasExited)
            {
                break;
            }

            await Task.Delay(500);
        }

        server.Dispose();
        throw new InvalidOperationException($"The server did not answer /health on {endpoint}. Its output:\n{server.Output}");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
