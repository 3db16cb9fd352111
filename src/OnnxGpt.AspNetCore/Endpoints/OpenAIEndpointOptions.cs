namespace OnnxGpt.AspNetCore;

/// <summary>
/// What <c>MapOpenAIEndpoints</c> serves and the limits it applies to requests. Every limit refuses a request with
/// OpenAI's error body (a 400, or a 413 for the body's size) before the model sees it, and the server keeps serving.
/// </summary>
public sealed class OpenAIEndpointOptions
{
    /// <summary>The prefix of the OpenAI routes (<c>{prefix}/chat/completions</c>, <c>{prefix}/completions</c>, <c>{prefix}/models</c>). Default: <c>/v1</c>.</summary>
    public string RoutePrefix { get; set; } = "/v1";

    /// <summary>The health route (<c>{"status":"ok",…}</c>, never behind the API key); null maps none. Default: <c>/health</c>.</summary>
    public string? HealthPath { get; set; } = "/health";

    /// <summary>
    /// The models served, each an id clients name in <c>model</c> and the service key of its <c>AddKeyedGpt</c>
    /// registration (null: the default <c>AddGpt</c> one). Empty (the default): the default registration alone, under
    /// the chat client's model id. The first one answers requests that name no model.
    /// </summary>
    public IList<OpenAIServedModel> Models { get; } = [];

    /// <summary>
    /// The API key clients must send as <c>Authorization: Bearer KEY</c> (compared in constant time; 401 otherwise);
    /// null or empty: no key. The health route is open either way.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>
    /// The largest request body accepted, in bytes; larger ones are refused with 413 before they are read (by their
    /// <c>Content-Length</c>) or as soon as they pass the limit (chunked). Null (the default):
    /// <see cref="BodyBytesPerContextToken"/> for each token of the largest served context, plus 64 KiB for the rest of the request.
    /// </summary>
    public long? MaxRequestBodyBytes { get; set; }

    /// <summary>The request body allowed per token of context when <see cref="MaxRequestBodyBytes"/> is null. Default: 64 (text JSON-escaped at its longest is 6 bytes a character).</summary>
    public int BodyBytesPerContextToken { get; set; } = 64;

    /// <summary>
    /// The prompt's characters allowed per token of context, checked before the prompt is tokenized: a longer prompt is
    /// refused with <c>context_length_exceeded</c> without tokenizing it. Default: 32.
    /// </summary>
    public int MaxPromptCharactersPerToken { get; set; } = 32;

    /// <summary>The most entries of <c>stop</c>. Default: 4 (OpenAI's limit).</summary>
    public int MaxStopSequences { get; set; } = 4;

    /// <summary>The longest <c>stop</c> entry, in characters. Default: 256.</summary>
    public int MaxStopSequenceLength { get; set; } = 256;

    /// <summary>The most <c>messages</c> in a chat request. Default: 2048.</summary>
    public int MaxMessages { get; set; } = 2048;

    /// <summary>The most <c>tools</c> in a chat request. Default: 128 (OpenAI's limit).</summary>
    public int MaxTools { get; set; } = 128;

    /// <summary>The longest short string field (<c>model</c>, <c>user</c>, tool names and ids, <c>role</c>), in characters. Default: 256.</summary>
    public int MaxShortStringLength { get; set; } = 256;

    /// <summary>The deepest nesting of the request's JSON. Default: 64.</summary>
    public int MaxJsonDepth { get; set; } = 64;
}
