using System.Text.RegularExpressions;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.Server;

/// <summary>A request the server refuses, answered with OpenAI's error body.</summary>
internal sealed class OpenAiError(int status, string message, string? param = null, string? code = null, string type = "invalid_request_error")
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

        return Results.Json(Body, OpenAiJson.Options, statusCode: Status);
    }

    public static OpenAiError BadRequest(string message, string? param = null, string? code = null) => new(StatusCodes.Status400BadRequest, message, param, code);

    /// <summary>The error a library exception stands for, or null for an unexpected one (a 500).</summary>
    public static OpenAiError? From(Exception exception, string promptParam) => exception switch
    {
        OpenAiError error => error,
        GptQueueFullException full => new OpenAiError(StatusCodes.Status429TooManyRequests, full.Message, null, "queue_full", "rate_limit_error"),
        PromptTooLongException tooLong => BadRequest(tooLong.Message, promptParam, "context_length_exceeded"),
        ArgumentOutOfRangeException range => BadRequest(FirstLine(range.Message), ParamName(range.ParamName), "invalid_value"),
        NotSupportedException unsupported => BadRequest(unsupported.Message, ParamName(OptionNamed(unsupported.Message)), "unsupported_parameter"),
        ArgumentException argument => BadRequest(FirstLine(argument.Message), ParamName(argument.ParamName)),
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
        "messages" or "prompt" => option,
        _ => Regex.Replace(option, "(?<=[a-z0-9])([A-Z])", "_$1").ToLowerInvariant(),
    };

    private static string? OptionNamed(string message) =>
        Regex.Match(message, @"ChatOptions\.(\w+)") is { Success: true } match ? match.Groups[1].Value : null;

    // ArgumentException appends " (Parameter 'x')" on its own line.
    private static string FirstLine(string message) => Regex.Replace(message.Split('\n')[0], @" \(Parameter '[^']*'\)$", string.Empty);
}
