using System.Text.Json;

namespace OnnxGpt.Cli.Tests;

/// <summary>Runs the CLI in-process and captures what it writes.</summary>
internal static class CliRunner
{
    public sealed record Run(int ExitCode, string Stdout, string Stderr)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        public JsonElement Json()
        {
            Assert.That(ExitCode, Is.Zero, $"stderr: {Stderr}");
            using var doc = JsonDocument.Parse(Stdout);
            return doc.RootElement.Clone();
        }

        public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    public static async Task<Run> RunAsync(params string[] args) => await RunAsync(CancellationToken.None, args);

    public static async Task<Run> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exitCode = await CliApp.RunAsync(args, stdout, stderr, cancellationToken);
        return new Run(exitCode, stdout.ToString(), stderr.ToString());
    }

    public static int[] Ints(this JsonElement element) => [.. element.EnumerateArray().Select(e => e.GetInt32())];

    /// <summary>The embedded model, where the CLI's default path looks for it.</summary>
    public static string EmbeddedModel => Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");

    /// <summary>greedy.romeo.greedy_ids from the embedded model's reference.json (Hugging Face transformers' output).</summary>
    public static int[] RomeoGreedyIds()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(EmbeddedModel, "reference.json")));
        return doc.RootElement.GetProperty("greedy").GetProperty("romeo").GetProperty("greedy_ids").Ints();
    }
}
