using System.Diagnostics;

namespace OnnxGpt.Readme.Tests;

/// <summary>
/// The README's <c>dotnet run --project examples/GenericHost</c>: the app runs from the repository root (and any other
/// folder), reading appsettings.json and the model from its own folder; a bad setting is one line and exit code 1.
/// </summary>
public sealed class GenericHostExampleTests
{
    private static string RepositoryRoot
    {
        get
        {
            var folder = new DirectoryInfo(AppContext.BaseDirectory);
            while (folder is not null && !File.Exists(Path.Combine(folder.FullName, "OnnxGpt.sln")))
            {
                folder = folder.Parent;
            }

            return folder?.FullName ?? throw new InvalidOperationException($"No OnnxGpt.sln above {AppContext.BaseDirectory}.");
        }
    }

    /// <summary>The example's build output, in the configuration these tests were built in.</summary>
    private static string ExampleDll
    {
        get
        {
            var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;   // bin/<Configuration>/net10.0
            return Path.Combine(RepositoryRoot, "examples", "GenericHost", "bin", configuration, "net10.0", "GenericHost.dll");
        }
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(ExampleDll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    [Test]
    public async Task It_runs_from_the_repository_root_and_from_another_folder()
    {
        var elsewhere = Directory.CreateTempSubdirectory("onnxgpt-generichost-");
        try
        {
            foreach (var folder in new[] { RepositoryRoot, elsewhere.FullName })
            {
                var (exitCode, stdout, stderr) = await RunAsync(folder);

                Assert.Multiple(() =>
                {
                    Assert.That(exitCode, Is.Zero, $"from {folder}: {stdout}\n{stderr}");
                    // The worker's last line is the finish reason of its 64-token verse: stop ("\n\n") or length.
                    Assert.That(stdout.TrimEnd().Split('\n')[^1], Is.EqualTo("[stop]").Or.EqualTo("[length]"), stdout);
                });
            }
        }
        finally
        {
            elsewhere.Delete(recursive: true);
        }
    }

    [Test]
    public async Task A_missing_model_is_one_line_and_exit_code_1()
    {
        var missing = Path.Combine(Path.GetTempPath(), "onnxgpt-no-such-model-" + Guid.NewGuid().ToString("N"));

        var (exitCode, stdout, stderr) = await RunAsync(RepositoryRoot, $"--Gpt:ModelPath={missing}");

        Assert.Multiple(() =>
        {
            Assert.That(exitCode, Is.EqualTo(1), stdout + stderr);
            Assert.That(stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), stderr);
            Assert.That(stderr, Does.StartWith($"error: Cannot load the model at '{missing}'"));
            Assert.That(stdout + stderr, Does.Not.Contain("   at "));
        });
    }
}
