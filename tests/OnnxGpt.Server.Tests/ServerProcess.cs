using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OnnxGpt.Server.Tests;

/// <summary>examples/OnnxGpt.Server or <c>onnxgpt serve</c> started from its build output on a free loopback port, stopped on dispose.</summary>
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

    /// <summary>The server process's id (its memory is read from /proc).</summary>
    public int ProcessId => _process.Id;

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

    /// <summary>The repository root (the folder of OnnxGpt.sln).</summary>
    public static string RepositoryRoot
    {
        get
        {
            var root = AppContext.BaseDirectory;
            while (!File.Exists(Path.Combine(root, "OnnxGpt.sln")))
            {
                root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("The repository root (OnnxGpt.sln) is not above the test folder.");
            }

            return root;
        }
    }

    /// <summary>The build output folder of a project under the repository root, in the tests' configuration.</summary>
    public static string OutputOf(params string[] project) =>
        Path.Combine([RepositoryRoot, .. project, "bin", new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0"]);

    /// <summary>Starts examples/OnnxGpt.Server.</summary>
    public static Task<ServerProcess> StartAsync(params string[] extraArguments)
    {
        var endpoint = $"http://127.0.0.1:{FreePort()}";
        return StartAsync(OutputOf("examples", "OnnxGpt.Server"), endpoint, ["OnnxGpt.Server.dll", "--urls", endpoint, .. extraArguments], null);
    }

    /// <summary>Starts <c>onnxgpt serve</c> (the CLI's build output) with <c>--urls</c> on a free port.</summary>
    public static Task<ServerProcess> StartServeAsync(params string[] extraArguments)
    {
        var endpoint = $"http://127.0.0.1:{FreePort()}";
        return StartAsync(OutputOf("tools", "OnnxGpt.Cli"), endpoint, ["OnnxGpt.Cli.dll", "serve", "--urls", endpoint, .. extraArguments], null);
    }

    /// <summary>Starts <c>onnxgpt serve</c> with no <c>--urls</c>: the address comes from <c>ASPNETCORE_URLS</c>.</summary>
    public static Task<ServerProcess> StartServeWithEnvironmentUrlsAsync()
    {
        var endpoint = $"http://127.0.0.1:{FreePort()}";
        return StartAsync(OutputOf("tools", "OnnxGpt.Cli"), endpoint, ["OnnxGpt.Cli.dll", "serve"], new() { ["ASPNETCORE_URLS"] = endpoint });
    }

    private static async Task<ServerProcess> StartAsync(string folder, string endpoint, string[] arguments, Dictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo("dotnet", arguments)
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (name, value) in environment ?? [])
        {
            start.Environment[name] = value;
        }

        var process = Process.Start(start)!;
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
