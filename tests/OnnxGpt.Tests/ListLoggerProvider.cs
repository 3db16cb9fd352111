using Microsoft.Extensions.Logging;

namespace OnnxGpt.Tests;

/// <summary>Keeps every log entry, for tests that check what was logged.</summary>
internal sealed class ListLoggerProvider : ILoggerProvider
{
    private readonly List<(LogLevel Level, EventId EventId, string Text)> _messages = [];

    /// <summary>The entries so far, oldest first.</summary>
    public IReadOnlyList<(LogLevel Level, EventId EventId, string Text)> Messages
    {
        get
        {
            lock (_messages)
            {
                return [.. _messages];
            }
        }
    }

    /// <summary>The texts of the entries at warning level or above.</summary>
    public IReadOnlyList<string> Warnings => [.. Messages.Where(m => m.Level >= LogLevel.Warning).Select(m => m.Text)];

    public ILogger CreateLogger(string categoryName) => new ListLogger(this);

    public void Dispose()
    {
    }

    private sealed class ListLogger(ListLoggerProvider owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._messages)
            {
                owner._messages.Add((logLevel, eventId, formatter(state, exception)));
            }
        }
    }
}
