using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using OnnxGpt.Generation;

namespace OnnxGpt.AspNetCore;

/// <summary>
/// The OpenAI-compatible routes over the served models: <c>POST {prefix}/chat/completions</c> and
/// <c>{prefix}/completions</c> (streamed as server-sent events with <c>"stream": true</c>), <c>GET {prefix}/models</c>
/// and <c>{prefix}/models/{id}</c>, and the health route. Every refusal is OpenAI's error body.
/// </summary>
internal sealed class OpenAIEndpoints
{
    private readonly IReadOnlyList<ServedModel> _models;
    private readonly IReadOnlyDictionary<ServedModel, bool> _dropsOldestTurns;
    private readonly OpenAIEndpointOptions _options;
    private readonly ILogger _logger;
    private readonly byte[]? _apiKey;
    private readonly RequestCounter _requests = new();

    public OpenAIEndpoints(IReadOnlyList<ServedModel> models, IReadOnlyDictionary<ServedModel, bool> dropsOldestTurns, OpenAIEndpointOptions options, ILogger logger)
    {
        _models = models;
        _dropsOldestTurns = dropsOldestTurns;
        _options = options;
        _logger = logger;
        _apiKey = string.IsNullOrEmpty(options.ApiKey) ? null : Encoding.UTF8.GetBytes(options.ApiKey);
        BodyLimit = options.MaxRequestBodyBytes ?? ((long)models.Max(m => m.ContextLength) * options.BodyBytesPerContextToken) + (64 * 1024);
    }

    /// <summary>The largest request body accepted, in bytes.</summary>
    public long BodyLimit { get; }

    public void Map(IEndpointRouteBuilder routes)
    {
        var prefix = "/" + _options.RoutePrefix.Trim('/');
        var group = routes.MapGroup(prefix == "/" ? string.Empty : prefix);
        group.Map("/chat/completions", context => Only(context, HttpMethods.Post, ChatAsync));
        group.Map("/completions", context => Only(context, HttpMethods.Post, CompletionAsync));
        group.Map("/models", context => Only(context, HttpMethods.Get, ListModels));
        group.Map("/models/{id}", context => Only(context, HttpMethods.Get, GetModel));
        group.Map("/{**rest}", context => Write(context, OpenAiError.ForStatus(StatusCodes.Status404NotFound, context.Request.Path, context.Request.Method)));
        if (_options.HealthPath is { Length: > 0 } health)
        {
            routes.Map(health, context => Only(context, HttpMethods.Get, _ => Health(), authorize: false));
        }

        Log.Serving(_logger, string.Join(", ", _models.Select(m => m.Id)), prefix, BodyLimit, _apiKey is null ? string.Empty : ", API key required");
    }

    private Task Only(HttpContext context, string method, Func<HttpContext, IResult> handle, bool authorize = true) =>
        Only(context, method, c => Task.FromResult(handle(c)), authorize);

    private async Task Only(HttpContext context, string method, Func<HttpContext, Task<IResult>> handle, bool authorize = true)
    {
        IResult result;
        if (!string.Equals(context.Request.Method, method, StringComparison.OrdinalIgnoreCase)
            && !(method == HttpMethods.Get && HttpMethods.IsHead(context.Request.Method)))
        {
            context.Response.Headers.Allow = method;
            result = Refuse(context, OpenAiError.ForStatus(StatusCodes.Status405MethodNotAllowed, context.Request.Path, context.Request.Method));
        }
        else if (authorize && !Authorized(context))
        {
            result = Refuse(context, OpenAiError.Unauthorized());
        }
        else
        {
            result = await handle(context).ConfigureAwait(false);
        }

        await result.ExecuteAsync(context).ConfigureAwait(false);
    }

    private Task Write(HttpContext context, OpenAiError error) => Refuse(context, error).ExecuteAsync(context);

    private bool Authorized(HttpContext context)
    {
        if (_apiKey is null)
        {
            return true;
        }

        var header = context.Request.Headers.Authorization.ToString();
        const string Bearer = "Bearer ";
        if (!header.StartsWith(Bearer, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var sent = Encoding.UTF8.GetBytes(header[Bearer.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(sent, _apiKey);
    }

    private IResult Health()
    {
        var limited = _models.Where(m => m.Limiter is not null).ToList();
        var pooled = _models.Where(m => m.Model is not null).Select(m => m.Model!.CacheStatistics).ToList();
        return Results.Json(
            new ServerHealth(
                "ok", _models[0].Id, [.. _models.Select(m => m.Id)], _requests.InFlight,
                limited.Count == 0 ? null : new HealthGenerations(limited.Sum(m => m.Limiter!.Running), limited.Sum(m => m.Limiter!.Queued)),
                pooled.Count == 0 ? null : new HealthCache(pooled.Sum(c => c.Rented), pooled.Sum(c => c.Idle), pooled.Sum(c => c.Conversations))),
            OpenAiJson.Options);
    }

    private IResult ListModels(HttpContext context) =>
        Results.Json(new ModelList([.. _models.Select(m => new ModelEntry(m.Id, m.Created))]), OpenAiJson.Options);

    private IResult GetModel(HttpContext context)
    {
        var id = context.Request.RouteValues["id"] as string ?? string.Empty;
        var model = _models.FirstOrDefault(m => string.Equals(m.Id, id, StringComparison.OrdinalIgnoreCase));
        return model is null
            ? Refuse(context, NotFound(id))
            : Results.Json(new ModelEntry(model.Id, model.Created), OpenAiJson.Options);
    }

    private Task<IResult> ChatAsync(HttpContext context) => HandleAsync(context, "messages", OpenAiRequest.ParseChat, RespondChatAsync);

    private Task<IResult> CompletionAsync(HttpContext context) => HandleAsync(context, "prompt", OpenAiRequest.ParseCompletion, RespondCompletionAsync);

    /// <summary>What every generating endpoint does around its answer: counts the request, reads and parses the body, finds the model, bounds the prompt's length, and turns any failure into OpenAI's error shape.</summary>
    private async Task<IResult> HandleAsync(HttpContext context, string promptParam, Func<JsonElement, OpenAIEndpointOptions, OpenAiRequest> parse, Func<HttpContext, OpenAiRequest, ServedModel, Task<IResult>> respond)
    {
        using var handling = _requests.Enter();
        try
        {
            var request = parse(await OpenAiBody.ReadAsync(context.Request, BodyLimit, _options.MaxJsonDepth, context.RequestAborted).ConfigureAwait(false), _options);
            var served = Find(request.Model);
            CheckCharacters(served, request.PromptCharacters, promptParam);
            return await respond(context, request, served).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return Fail(context, ex, promptParam);
        }
    }

    private async Task<IResult> RespondChatAsync(HttpContext context, OpenAiRequest request, ServedModel served)
    {
        var aborted = context.RequestAborted;
        var options = request.ToChatOptions();
        if (request.MaxTokens is { } maxTokens && served.GptChat is { } gptChat)
        {
            // A conversation longer than the context loses its oldest turns (Chat:ContextOverflow), unless set to Throw.
            CheckContext(served, _dropsOldestTurns[served] ? null : GptPrompt.FromText(gptChat.FormatPrompt(request.Messages, options)), maxTokens, "messages");
        }

        var id = "chatcmpl-" + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var response = await served.Chat.GetResponseAsync(request.Messages, options, aborted).ConfigureAwait(false);
            var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Select(c => ToolCallOf(c, null)).ToList();
            var text = response.Text;
            var message = new AssistantMessage(calls.Count > 0 && text.Length == 0 ? null : text, calls.Count > 0 ? calls : null);
            return Results.Json(
                new ChatCompletion(id, created, served.Id, [new ChatChoice(0, message, null, response.FinishReason?.Value)], UsageFrom(response.Usage)),
                OpenAiJson.Options);
        }

        var updates = served.Chat.GetStreamingResponseAsync(request.Messages, options, aborted).GetAsyncEnumerator(aborted);
        await using var disposeUpdates = updates.ConfigureAwait(false);
        var hasUpdate = await updates.MoveNextAsync().ConfigureAwait(false);   // errors before the first token still get a status code
        await StartEventStream(context).ConfigureAwait(false);
        await WriteEvent(context, new ChatCompletionChunk(id, created, served.Id, [new ChatChunkChoice(0, new Delta("assistant", string.Empty), null, null)])).ConfigureAwait(false);
        UsageDetails? usage = null;
        var callIndex = 0;
        for (; hasUpdate; hasUpdate = await updates.MoveNextAsync().ConfigureAwait(false))
        {
            var update = updates.Current;
            usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
            if (update.Text.Length > 0)
            {
                await WriteEvent(context, new ChatCompletionChunk(id, created, served.Id, [new ChatChunkChoice(0, new Delta(null, update.Text), null, null)])).ConfigureAwait(false);
            }

            foreach (var call in update.Contents.OfType<FunctionCallContent>())
            {
                var delta = new Delta(null, null, [ToolCallOf(call, callIndex++)]);
                await WriteEvent(context, new ChatCompletionChunk(id, created, served.Id, [new ChatChunkChoice(0, delta, null, null)])).ConfigureAwait(false);
            }

            if (update.FinishReason is { } finish)
            {
                await WriteEvent(context, new ChatCompletionChunk(id, created, served.Id, [new ChatChunkChoice(0, new Delta(null, null), null, finish.Value)])).ConfigureAwait(false);
            }
        }

        if (request.IncludeUsage)
        {
            await WriteEvent(context, new ChatCompletionChunk(id, created, served.Id, [], UsageFrom(usage))).ConfigureAwait(false);
        }

        await WriteDone(context).ConfigureAwait(false);
        return Results.Empty;
    }

    private async Task<IResult> RespondCompletionAsync(HttpContext context, OpenAiRequest request, ServedModel served)
    {
        var aborted = context.RequestAborted;
        var options = request.ToGenerationOptions();
        if (request.MaxTokens is { } maxTokens)
        {
            CheckContext(served, request.Prompt!, maxTokens, "prompt");
        }

        var generator = served.Generator;
        var id = "cmpl-" + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var result = await generator.GenerateAsync(request.Prompt!, options, aborted).ConfigureAwait(false);
            return Results.Json(new Completion(id, created, served.Id, [new CompletionChoice(result.Text, 0, null, FinishReasonOf(result))], UsageOf(result)), OpenAiJson.Options);
        }

        var tokens = generator.StreamAsync(request.Prompt!, options, aborted).GetAsyncEnumerator(aborted);
        await using var disposeTokens = tokens.ConfigureAwait(false);
        var hasToken = await tokens.MoveNextAsync().ConfigureAwait(false);
        await StartEventStream(context).ConfigureAwait(false);
        for (; hasToken; hasToken = await tokens.MoveNextAsync().ConfigureAwait(false))
        {
            var token = tokens.Current;
            if (token.Text.Length > 0 || token.Result is not null)
            {
                var finish = token.Result is { } result ? FinishReasonOf(result) : null;
                await WriteEvent(context, new Completion(id, created, served.Id, [new CompletionChoice(token.Text, 0, null, finish)], null)).ConfigureAwait(false);
                if (token.Result is { } last && request.IncludeUsage)
                {
                    await WriteEvent(context, new Completion(id, created, served.Id, [], UsageOf(last))).ConfigureAwait(false);
                }
            }
        }

        await WriteDone(context).ConfigureAwait(false);
        return Results.Empty;
    }

    private ServedModel Find(string? model) =>
        model is null ? _models[0]
        : _models.FirstOrDefault(m => string.Equals(m.Id, model, StringComparison.OrdinalIgnoreCase)) ?? throw NotFound(model);

    private OpenAiError NotFound(string model) => new(
        StatusCodes.Status404NotFound,
        $"The model '{model}' does not exist; this server serves {string.Join(", ", _models.Select(m => $"'{m.Id}'"))}.",
        "model", "model_not_found");

    // The prompt's length, checked before the tokenizer sees it: no tokenizer ever reads megabytes for a small context.
    private void CheckCharacters(ServedModel served, long characters, string promptParam)
    {
        var allowed = (long)served.ContextLength * _options.MaxPromptCharactersPerToken;
        if (characters > allowed)
        {
            throw OpenAiError.BadRequest(
                $"This model's maximum context length is {served.ContextLength} tokens, and the {promptParam} hold {characters} characters, more than such a context can take ({allowed}). Please reduce the length of the {promptParam}.",
                promptParam, "context_length_exceeded");
        }
    }

    // OpenAI refuses a request whose prompt and max_tokens do not fit the context; the library would shorten the reply.
    private static void CheckContext(ServedModel served, GptPrompt? prompt, int maxTokens, string promptParam)
    {
        var context = served.ContextLength;
        if (maxTokens >= context)
        {
            throw OpenAiError.BadRequest($"max_tokens is too large: {maxTokens}. This model's maximum context length is {context} tokens.", "max_tokens", "context_length_exceeded");
        }

        if (prompt is null)
        {
            return;
        }

        int? counted = prompt.TokenIds?.Count ?? (served.Model?.Tokenizer is not null ? served.Model.Encode(prompt.Text!).Count : null);
        if (counted is { } promptTokens && promptTokens + maxTokens > context)
        {
            throw OpenAiError.BadRequest(
                $"This model's maximum context length is {context} tokens. However, you requested {promptTokens + maxTokens} tokens ({promptTokens} in the {promptParam}, {maxTokens} in the completion). Please reduce the length of the {promptParam} or completion.",
                promptParam, "context_length_exceeded");
        }
    }

    private static ToolCall ToolCallOf(FunctionCallContent call, int? index) =>
        new(index, call.CallId, new ToolCallFunction(call.Name, JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions)));

    private static string FinishReasonOf(GenerationResult result) => result.FinishReason == FinishReason.Length ? "length" : "stop";

    private static Usage UsageOf(GenerationResult result) => new(result.PromptTokenCount, result.GeneratedTokenCount, result.PromptTokenCount + result.GeneratedTokenCount);

    private static Usage UsageFrom(UsageDetails? usage) => new(usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0, usage?.TotalTokenCount ?? 0);

    private static Task StartEventStream(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        return context.Response.StartAsync(context.RequestAborted);
    }

    private static async Task WriteEvent(HttpContext context, object payload)
    {
        await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(payload, payload.GetType(), OpenAiJson.Options) + "\n\n", context.RequestAborted).ConfigureAwait(false);
        await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    private static Task WriteDone(HttpContext context) => context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);

    private IResult Refuse(HttpContext context, OpenAiError error)
    {
        Log.Refused(_logger, context.Request.Method, context.Request.Path, error.Status, error.Code, error.Message);
        return error.ToResult(context);
    }

    private IResult Fail(HttpContext context, Exception exception, string promptParam)
    {
        if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: its generation stopped with the token; there is no one to answer.
            Log.ClientDisconnected(_logger, context.Request.Path,
                (exception as GenerationCanceledException)?.PartialResult?.GeneratedTokenCount.ToString(CultureInfo.InvariantCulture) ?? "unknown");
            return Results.Empty;
        }

        var error = OpenAiError.From(exception, promptParam);
        if (error is null)
        {
            Log.Failed(_logger, exception, context.Request.Path);
            error = new OpenAiError(StatusCodes.Status500InternalServerError, "The server had an error while processing your request.", null, null, "server_error");
        }
        else
        {
            Log.Refused(_logger, context.Request.Method, context.Request.Path, error.Status, error.Code, error.Message);
        }

        if (!context.Response.HasStarted)
        {
            return error.ToResult(context);
        }

        // Mid-stream: OpenAI's clients raise an error event as an exception.
        try
        {
            context.Response.WriteAsync("data: " + JsonSerializer.Serialize(error.Body, OpenAiJson.Options) + "\n\n").GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            Log.ErrorEventLost(_logger, ex, context.Request.Path);
        }

        return Results.Empty;
    }
}
