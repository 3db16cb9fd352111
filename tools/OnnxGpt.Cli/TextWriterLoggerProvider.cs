using Microsoft.Extensions.Logging;

namespace OnnxGpt.Cli;

/// <summary>
/// Writes log entries one line each (<c>warn: Category[event] message</c>) to the command's standard error writer, so
/// that warnings reach the user beside the command's errors and summaries, and tests that run the CLI in-process see them.
/// </summary>
internal sealed class TextWriterLoggerProvider(TextWriter writer, bool includeExceptions) : ILoggerProvider
{
    private readonly Lock _gate = new();
    private readonly TextWriter _writer = writer;
    private readonly bool _includeExceptions = includeExceptions;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
        lock (_gate)
        {
            _writer.Flush();
        }
    }

    private static string Label(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        _ => "crit",
    };

    private sealed class Logger(TextWriterLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{Label(logLevel)}: {category}[{eventId.Id}] {formatter(state, exception)}";
            if (exception is not null && provider._includeExceptions)
            {
                line += Environment.NewLine + exception;
            }

            lock (provider._gate)
            {
                provider._writer.WriteLine(line);
            }
        }
    }
}
