using System.Text.Json;
using Microsoft.Extensions.Logging;
using OnnxGpt.GenAI;
using OnnxGpt.Generation;

namespace OnnxGpt.GenAI.Tests;

/// <summary>The fixtures copied into the test output, their reference outputs, and shared generators.</summary>
public static class Fixtures
{
    public static string TinyShakespeare => Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");

    public static string Gpt2Tiny => Path.Combine(AppContext.BaseDirectory, "fixtures", "gpt2-tiny");

    public sealed record GreedyCase(string Model, string Directory, string Name, string? Prompt, int[] PromptIds, int[] GreedyIds)
    {
        public override string ToString() => $"{Model}/{Name}";
    }

    public static IEnumerable<GreedyCase> Greedy(string model, string directory)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "reference.json")));
        foreach (var c in doc.RootElement.GetProperty("greedy").EnumerateObject())
        {
            var prompt = c.Value.TryGetProperty("prompt", out var p) ? p.GetString() : null;
            yield return new GreedyCase(
                model,
                directory,
                c.Name,
                prompt,
                [.. c.Value.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. c.Value.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32())]);
        }
    }

    internal static GenAIGenerator Create(string directory, params string[] providers)
    {
        var options = new GptOptions { ModelPath = directory };
        foreach (var provider in providers)
        {
            options.ExecutionProviders.Add(new Providers.ExecutionProviderOptions(provider));
        }

        return GenAIGenerator.Create(options);
    }
}

/// <summary>Collects log entries, to check what was logged.</summary>
internal sealed class ListLoggerProvider : ILoggerProvider
{
    public List<(LogLevel Level, string Category, string Message)> Entries { get; } = [];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(ListLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner.Entries)
            {
                owner.Entries.Add((logLevel, category, formatter(state, exception)));
            }
        }
    }
}
