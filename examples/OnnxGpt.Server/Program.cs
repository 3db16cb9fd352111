// An OpenAI-compatible HTTP server over OnnxGpt: POST /v1/chat/completions and /v1/completions (streamed as
// server-sent events with "stream": true), GET /v1/models and GET /health. AddGpt is bound from appsettings.json
// (the embedded tiny-shakespeare model, at most 4 generations at once and 16 waiting; one more gets a 429).
// /health also reports the requests in flight, the generations running and queued, and the model's cache pool.
// Diagnostics: --Server:TokenDelay=00:00:00.1 waits that long before each token after the first, so that a generation
// on the tiny model lasts long enough to watch (the server tests disconnect from one mid-stream).
// Run: dotnet run --project examples/OnnxGpt.Server [-- --urls http://127.0.0.1:5180]
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OnnxGpt.Chat;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;
using OnnxGpt.Models;
using OnnxGpt.Server;

// appsettings.json and the model are read from the app's folder, whatever the current folder (dotnet run, the root).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddGpt(builder.Configuration.GetSection("Gpt"));
builder.Services.PostConfigure<GptOptions>(o => o.ModelPath = string.IsNullOrWhiteSpace(o.ModelPath) ? o.ModelPath : Path.GetFullPath(o.ModelPath, builder.Environment.ContentRootPath));
builder.Services.Configure<GptChatClientOptions>(builder.Configuration.GetSection("Chat"));
if (builder.Configuration.GetValue<TimeSpan?>("Server:TokenDelay") is { } tokenDelay && tokenDelay > TimeSpan.Zero)
{
    // Wrap AddGpt's generator; the chat client is built over whatever IGptGenerator is registered.
    var registered = builder.Services.Last(d => d.ServiceType == typeof(IGptGenerator) && !d.IsKeyedService);
    builder.Services.Remove(registered);
    builder.Services.AddSingleton<IGptGenerator>(sp => new PacedGenerator((IGptGenerator)registered.ImplementationFactory!(sp), tokenDelay));
}

var app = builder.Build();

// Load the model before listening, so /health answers only once requests can be served; a configuration or model
// folder problem is one line that says what to fix.
IChatClient chat;
try
{
    chat = app.Services.GetRequiredService<IChatClient>();
}
catch (Exception ex) when (ex is OptionsValidationException or ModelLoadException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}

var generator = app.Services.GetRequiredService<IGptGenerator>();
var modelId = chat.GetService<ChatClientMetadata>()?.DefaultModelId ?? "onnxgpt";
var modelCreated = new DateTimeOffset(File.GetLastWriteTimeUtc(generator.ModelInfo.GraphPath)).ToUnixTimeSeconds();
// OnnxGpt's own backend exposes the model's tokenizer, to count a prompt's tokens before generating.
var model = app.Services.GetRequiredService<IOptions<GptOptions>>().Value.Backend == GptBackend.OnnxGpt
    ? app.Services.GetRequiredService<GptModel>()
    : null;
var limiter = ((generator as PacedGenerator)?.Inner ?? generator) as ConcurrencyLimitedGenerator;
var requests = new RequestCounter();
var dropsOldestTurns = app.Services.GetRequiredService<IOptions<GptChatClientOptions>>().Value.ContextOverflow == ContextOverflow.DropOldestTurns;

app.MapGet("/health", () =>
{
    var cache = model?.CacheStatistics;
    return Results.Json(
        new ServerHealth(
            "ok", modelId, requests.InFlight,
            limiter is null ? null : new HealthGenerations(limiter.Running, limiter.Queued),
            cache is { } c ? new HealthCache(c.Rented, c.Idle, c.Conversations) : null),
        OpenAiJson.Options);
});

app.MapGet("/v1/models", () => Results.Json(new ModelList([new ModelEntry(modelId, modelCreated)]), OpenAiJson.Options));

app.MapPost("/v1/chat/completions", async (HttpContext context) =>
{
    using var handling = requests.Enter();
    var aborted = context.RequestAborted;
    try
    {
        var request = OpenAiRequest.ParseChat(await OpenAiRequest.ReadBodyAsync(context.Request, aborted));
        CheckModel(request);
        var options = request.ToChatOptions();
        if (request.MaxTokens is { } maxTokens && chat.GetService<GptChatClient>() is { } gptChat)
        {
            // A conversation longer than the context loses its oldest turns (Chat:ContextOverflow), unless set to Throw.
            CheckContext(gptChat.Generator, dropsOldestTurns ? null : GptPrompt.FromText(gptChat.FormatPrompt(request.Messages, options)), maxTokens, "messages");
        }

        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var response = await chat.GetResponseAsync(request.Messages, options, aborted);
            return Results.Json(
                new ChatCompletion(id, created, modelId, [new ChatChoice(0, new AssistantMessage(response.Text), null, response.FinishReason?.Value)], UsageFrom(response.Usage)),
                OpenAiJson.Options);
        }

        await using var updates = chat.GetStreamingResponseAsync(request.Messages, options, aborted).GetAsyncEnumerator(aborted);
        var hasUpdate = await updates.MoveNextAsync();   // errors before the first token still get a status code
        await StartEventStream(context);
        await WriteEvent(context, new ChatCompletionChunk(id, created, modelId, [new ChatChunkChoice(0, new Delta("assistant", string.Empty), null, null)]));
        UsageDetails? usage = null;
        for (; hasUpdate; hasUpdate = await updates.MoveNextAsync())
        {
            var update = updates.Current;
            usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
            if (update.Text.Length > 0)
            {
                await WriteEvent(context, new ChatCompletionChunk(id, created, modelId, [new ChatChunkChoice(0, new Delta(null, update.Text), null, null)]));
            }

            if (update.FinishReason is { } finish)
            {
                await WriteEvent(context, new ChatCompletionChunk(id, created, modelId, [new ChatChunkChoice(0, new Delta(null, null), null, finish.Value)]));
            }
        }

        if (request.IncludeUsage)
        {
            await WriteEvent(context, new ChatCompletionChunk(id, created, modelId, [], UsageFrom(usage)));
        }

        await WriteDone(context);
        return Results.Empty;
    }
    catch (Exception ex)
    {
        return Fail(context, ex, "messages");
    }
});

app.MapPost("/v1/completions", async (HttpContext context) =>
{
    using var handling = requests.Enter();
    var aborted = context.RequestAborted;
    try
    {
        var request = OpenAiRequest.ParseCompletion(await OpenAiRequest.ReadBodyAsync(context.Request, aborted));
        CheckModel(request);
        var options = request.ToGenerationOptions();
        if (request.MaxTokens is { } maxTokens)
        {
            CheckContext(generator, request.Prompt!, maxTokens, "prompt");
        }

        var id = "cmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (!request.Stream)
        {
            var result = await generator.GenerateAsync(request.Prompt!, options, aborted);
            return Results.Json(new Completion(id, created, modelId, [new CompletionChoice(result.Text, 0, null, FinishReasonOf(result))], UsageOf(result)), OpenAiJson.Options);
        }

        await using var tokens = generator.StreamAsync(request.Prompt!, options, aborted).GetAsyncEnumerator(aborted);
        var hasToken = await tokens.MoveNextAsync();
        await StartEventStream(context);
        for (; hasToken; hasToken = await tokens.MoveNextAsync())
        {
            var token = tokens.Current;
            if (token.Text.Length > 0 || token.Result is not null)
            {
                var finish = token.Result is { } result ? FinishReasonOf(result) : null;
                await WriteEvent(context, new Completion(id, created, modelId, [new CompletionChoice(token.Text, 0, null, finish)], null));
                if (token.Result is { } last && request.IncludeUsage)
                {
                    await WriteEvent(context, new Completion(id, created, modelId, [], UsageOf(last)));
                }
            }
        }

        await WriteDone(context);
        return Results.Empty;
    }
    catch (Exception ex)
    {
        return Fail(context, ex, "prompt");
    }
});

app.Run();
return 0;

void CheckModel(OpenAiRequest request)
{
    if (request.Model is { } model && !string.Equals(model, modelId, StringComparison.OrdinalIgnoreCase))
    {
        throw OpenAiError.BadRequest($"The model '{model}' does not exist; this server serves '{modelId}'.", "model", "model_not_found");
    }
}

// OpenAI refuses a request whose prompt and max_tokens do not fit the context; the library would shorten the reply.
void CheckContext(IGptGenerator generator, GptPrompt? prompt, int maxTokens, string promptParam)
{
    var context = generator.ModelInfo.ContextLength;
    if (maxTokens >= context)
    {
        throw OpenAiError.BadRequest($"max_tokens is too large: {maxTokens}. This model's maximum context length is {context} tokens.", "max_tokens", "context_length_exceeded");
    }

    if (prompt is null)
    {
        return;
    }

    int? counted = prompt.TokenIds?.Count ?? (model?.Tokenizer is not null ? model.Encode(prompt.Text!).Count : null);
    if (counted is { } promptTokens)
    {
        if (promptTokens + maxTokens > context)
        {
            throw OpenAiError.BadRequest(
                $"This model's maximum context length is {context} tokens. However, you requested {promptTokens + maxTokens} tokens ({promptTokens} in the {promptParam}, {maxTokens} in the completion). Please reduce the length of the {promptParam} or completion.",
                promptParam, "context_length_exceeded");
        }
    }
}

static string FinishReasonOf(GenerationResult result) => result.FinishReason == FinishReason.Length ? "length" : "stop";

static Usage UsageOf(GenerationResult result) => new(result.PromptTokenCount, result.GeneratedTokenCount, result.PromptTokenCount + result.GeneratedTokenCount);

static Usage UsageFrom(UsageDetails? usage) => new(usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0, usage?.TotalTokenCount ?? 0);

static Task StartEventStream(HttpContext context)
{
    context.Response.ContentType = "text/event-stream";
    context.Response.Headers.CacheControl = "no-cache";
    context.Response.Headers["X-Accel-Buffering"] = "no";
    return context.Response.StartAsync(context.RequestAborted);
}

static async Task WriteEvent(HttpContext context, object payload)
{
    await context.Response.WriteAsync("data: " + JsonSerializer.Serialize(payload, payload.GetType(), OpenAiJson.Options) + "\n\n", context.RequestAborted);
    await context.Response.Body.FlushAsync(context.RequestAborted);
}

static Task WriteDone(HttpContext context) => context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);

IResult Fail(HttpContext context, Exception exception, string promptParam)
{
    if (exception is OperationCanceledException && context.RequestAborted.IsCancellationRequested)
    {
        // The client went away: its generation stopped with the token; there is no one to answer.
        app.Logger.LogInformation("Client disconnected from {Path}; its generation was stopped ({Tokens} tokens generated).", context.Request.Path,
            (exception as GenerationCanceledException)?.PartialResult?.GeneratedTokenCount.ToString(CultureInfo.InvariantCulture) ?? "unknown");
        return Results.Empty;
    }

    var error = OpenAiError.From(exception, promptParam);
    if (error is null)
    {
        app.Logger.LogError(exception, "Request to {Path} failed.", context.Request.Path);
        error = new OpenAiError(StatusCodes.Status500InternalServerError, "The server had an error while processing your request.", null, null, "server_error");
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
        app.Logger.LogDebug(ex, "The error event for {Path} could not be written; the client is gone.", context.Request.Path);
    }

    return Results.Empty;
}
