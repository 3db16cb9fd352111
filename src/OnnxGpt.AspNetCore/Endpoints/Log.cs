using Microsoft.Extensions.Logging;

namespace OnnxGpt.AspNetCore;

/// <summary>The endpoints' log messages. Client faults are warnings without a stack trace; only server faults carry one.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Client disconnected from {Path}; its generation was stopped ({Tokens} tokens generated).")]
    public static partial void ClientDisconnected(ILogger logger, string path, string tokens);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Refused {Method} {Path}: {Status} {Code}: {Message}")]
    public static partial void Refused(ILogger logger, string method, string path, int status, string? code, string message);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Request to {Path} failed.")]
    public static partial void Failed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 4, Level = LogLevel.Debug, Message = "The error event for {Path} could not be written; the client is gone.")]
    public static partial void ErrorEventLost(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Serving {Models} at {Prefix} (request bodies up to {Limit} bytes{Key}).")]
    public static partial void Serving(ILogger logger, string models, string prefix, long limit, string key);
}
