using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.AspNetCore;

/// <summary>A request the server refuses, answered with OpenAI's error body <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal sealed partial class OpenAiError(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
    : Exception(message)
{
    public int Status { get; } = status;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public string Type { get; } = type;

    public object Body => new ErrorBody(new ErrorDetail(Message, Type, Param, Code));

    public IResult ToResult(HttpContext context)
    {
        if (Status == StatusCodes.Status429TooManyRequests)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        if (Status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        return Results.Json(Body, OpenAiJson.Options, statusCode: Status);
    }

    public static OpenAiError BadRequest(string message, string? param = null, string? code = null) => new(StatusCodes.Status400BadRequest, message, param, code);

    /// <summary>The error body for a status code the pipeline produced without one (routing's 404 and 405, Kestrel's 413, ...).</summary>
    public static OpenAiError ForStatus(int status, string path, string method) => status switch
    {
        StatusCodes.Status400BadRequest => new(status, "The request was refused: it is malformed, or its Host header names a host this server does not answer to (AllowedHosts).", null, "bad_request"),
        StatusCodes.Status404NotFound => new(status, $"Invalid URL ({method} {path}): no such route on this server.", null, "not_found"),
        StatusCodes.Status405MethodNotAllowed => new(status, $"Method {method} is not allowed for {path}.", null, "method_not_allowed"),
        StatusCodes.Status408RequestTimeout => new(status, "The request body arrived too slowly; the server stopped waiting for it.", null, "request_timeout"),
        StatusCodes.Status413PayloadTooLarge => new(status, "The request body is too large for this server.", null, "request_too_large"),
        StatusCodes.Status415UnsupportedMediaType => UnsupportedMediaType(),
        StatusCodes.Status431RequestHeaderFieldsTooLarge => new(status, "The request's headers are too large.", null, "request_headers_too_large"),
        StatusCodes.Status401Unauthorized => Unauthorized(),
        >= 500 => new(status, "The server had an error while processing your request.", null, null, "server_error"),
        _ => new(status, $"The request was refused ({status}).", null, null),
    };

    public static OpenAiError Unauthorized() => new(
        StatusCodes.Status401Unauthorized,
        "Incorrect API key provided. Send the server's key as 'Authorization: Bearer KEY'.",
        null, "invalid_api_key", "invalid_request_error");

    public static OpenAiError UnsupportedMediaType() => new(
        StatusCodes.Status415UnsupportedMediaType,
        "The request body must be JSON: send it with 'Content-Type: application/json'.",
        null, "unsupported_media_type");

    public static OpenAiError TooLarge(long limit) => new(
        StatusCodes.Status413PayloadTooLarge,
        $"The request body is larger than this server accepts ({limit} bytes, sized to what the models' context can use).",
        null, "request_too_large");

    /// <summary>The error a library exception stands for, or null for an unexpected one (a 500).</summary>
    public static OpenAiError? From(Exception exception, string promptParam) => exception switch
    {
        OpenAiError error => error,
        GptQueueFullException full => new OpenAiError(StatusCodes.Status429TooManyRequests, ForUsers(full.Message), null, "queue_full", "rate_limit_error"),
        PromptTooLongException tooLong => BadRequest(ForUsers(tooLong.Message), promptParam, "context_length_exceeded"),
        ArgumentOutOfRangeException range => BadRequest(ForUsers(FirstLine(range.Message)), ParamName(range.ParamName), "invalid_value"),
        NotSupportedException unsupported => BadRequest(ForUsers(unsupported.Message), ParamName(OptionNamed(unsupported.Message)), "unsupported_parameter"),
        ArgumentException argument => BadRequest(ForUsers(FirstLine(argument.Message)), ParamName(argument.ParamName)),
        _ => null,
    };

    /// <summary>The OpenAI request field behind a ChatOptions or GenerationOptions property.</summary>
    public static string? ParamName(string? option) => option switch
    {
        null => null,
        "MaxOutputTokens" or "MaxNewTokens" => "max_tokens",
        "StopSequences" => "stop",
        "ModelId" => "model",
        "ToolMode" => "tool_choice",
        "Tools" => "tools",
        "ResponseFormat" or "JsonSchema" => "response_format",
        "messages" or "prompt" => option,
        _ => SnakeCase(option),
    };

    /// <summary>A library message as API users read it: OpenAI's field names, never .NET type or option names.</summary>
    public static string ForUsers(string message)
    {
        var renamed = message
            .Replace("ChatToolMode.Auto or None", "\"auto\" or \"none\"", StringComparison.Ordinal)
            .Replace("ChatToolMode.RequireAny", "\"required\"", StringComparison.Ordinal)
            .Replace("ChatToolMode.RequireSpecific", "a named function", StringComparison.Ordinal)
            .Replace("ChatToolMode.Auto", "\"auto\"", StringComparison.Ordinal)
            .Replace("ChatToolMode.None", "\"none\"", StringComparison.Ordinal)
            .Replace("by GptChatClient", "by this server", StringComparison.Ordinal)
            .Replace("GptChatClient", "this server", StringComparison.Ordinal);
        renamed = QualifiedOption().Replace(renamed, m => ParamName(m.Groups[1].Value)!);
        renamed = BareOption().Replace(renamed, m => ParamName(m.Value)!);
        return renamed
            .Replace("FunctionCallContent", "tool call", StringComparison.Ordinal)
            .Replace("FunctionResultContent", "tool result", StringComparison.Ordinal)
            .Replace("PromptTooLongException", "an error", StringComparison.Ordinal);
    }

    private static string SnakeCase(string option) => CamelHump().Replace(option, "_$1").ToLowerInvariant();

    private static string? OptionNamed(string message) =>
        QualifiedOption().Match(message) is { Success: true } match ? match.Groups[1].Value : null;

    // ArgumentException appends " (Parameter 'x')" on its own line, and ArgumentOutOfRangeException "Actual value was ...".
    private static string FirstLine(string message) => ParameterSuffix().Replace(message.Split('\n')[0], string.Empty);

    [GeneratedRegex(@"\b(?:ChatOptions|GenerationOptions|GptChatClientOptions|GptOptions)\.(\w+)")]
    private static partial Regex QualifiedOption();

    [GeneratedRegex(@"\b(?:MaxOutputTokens|MaxNewTokens|StopSequences|ToolMode|ResponseFormat|JsonSchema|FrequencyPenalty|PresencePenalty|Temperature|TopP|TopK|MinP|Seed|LogitBias)\b")]
    private static partial Regex BareOption();

    [GeneratedRegex("(?<=[a-z0-9])([A-Z])")]
    private static partial Regex CamelHump();

    [GeneratedRegex(@" \(Parameter '[^']*'\)$")]
    private static partial Regex ParameterSuffix();
}
