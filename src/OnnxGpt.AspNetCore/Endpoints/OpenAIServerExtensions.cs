using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OnnxGpt.AspNetCore;
using OnnxGpt.Chat;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Serves OnnxGpt models over OpenAI's HTTP API.</summary>
public static class OpenAIServerExtensions
{
    /// <summary>
    /// Maps <c>POST {prefix}/chat/completions</c>, <c>POST {prefix}/completions</c>, <c>GET {prefix}/models</c>,
    /// <c>GET {prefix}/models/{id}</c> and the health route over the models registered with <c>AddGpt</c> /
    /// <c>AddKeyedGpt</c>. The models are resolved (and loaded) now, so a configuration or model folder problem
    /// surfaces before the server listens.
    /// </summary>
    /// <param name="routes">The application (or any endpoint route builder).</param>
    /// <param name="options">The models, route prefix, API key and limits; null for the defaults (the default model under <c>/v1</c>).</param>
    /// <returns><paramref name="routes"/>.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A limit in <paramref name="options"/> is not positive; the exception names it.</exception>
    /// <exception cref="ArgumentException">Two served models share an id, or an id is empty.</exception>
    public static IEndpointRouteBuilder MapOpenAIEndpoints(this IEndpointRouteBuilder routes, OpenAIEndpointOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(routes);
        options ??= new OpenAIEndpointOptions();
        Validate(options);
        var services = routes.ServiceProvider;
        var models = options.Models.Count == 0
            ? [ServedModel.ResolveDefault(services)]
            : options.Models.Select(m => ServedModel.Resolve(services, m)).ToList();
        var chatOptions = services.GetService<IOptionsMonitor<GptChatClientOptions>>();
        var drops = new Dictionary<ServedModel, bool>();
        for (var i = 0; i < models.Count; i++)
        {
            var name = options.Models.Count == 0 ? Options.DefaultName : options.Models[i].ServiceKey ?? Options.DefaultName;
            drops[models[i]] = (chatOptions?.Get(name).ContextOverflow ?? ContextOverflow.DropOldestTurns) == ContextOverflow.DropOldestTurns;
        }

        var logger = services.GetService<ILoggerFactory>()?.CreateLogger("OnnxGpt.AspNetCore.OpenAIEndpoints") ?? NullLogger.Instance;
        new OpenAIEndpoints(models, drops, options, logger).Map(routes);
        return routes;
    }

    /// <summary>The request headers' total size above which <c>UseOpenAIErrors</c> answers 431 (Kestrel's own limit is set above it by <c>ConfigureOpenAIServer</c>).</summary>
    internal const int MaxRequestHeadersBytes = 32 * 1024;

    /// <summary>
    /// Gives every error response without a body OpenAI's error body <c>{"error":{"message","type","param","code"}}</c>:
    /// routing's 404 and 405, Kestrel's 408 and 413 for a body read too slowly or too large, 415, host filtering's 400,
    /// and 5xx; requests whose headers pass 32 KiB are refused with 431 in the same shape. <c>ConfigureOpenAIServer</c>
    /// adds it outermost; without that, call it first, so that it wraps the rest of the pipeline.
    /// </summary>
    /// <param name="app">The application.</param>
    /// <returns><paramref name="app"/>.</returns>
    public static IApplicationBuilder UseOpenAIErrors(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Use(async (context, next) =>
        {
            try
            {
                if (HeaderBytes(context.Request.Headers) > MaxRequestHeadersBytes)
                {
                    context.Response.StatusCode = StatusCodes.Status431RequestHeaderFieldsTooLarge;
                }
                else
                {
                    await next(context).ConfigureAwait(false);
                }
            }
            catch (BadHttpRequestException ex) when (!context.Response.HasStarted)
            {
                // A client fault Kestrel found while the app read the request: no stack trace, no error log.
                context.Response.StatusCode = ex.StatusCode;
            }

            var response = context.Response;
            if (!response.HasStarted && response.StatusCode >= 400 && response.ContentLength is null && response.ContentType is null)
            {
                var error = OpenAiError.ForStatus(response.StatusCode, context.Request.Path, context.Request.Method);
                response.ContentType = "application/json";
                await JsonSerializer.SerializeAsync(response.Body, error.Body, OpenAiJson.Options, context.RequestAborted).ConfigureAwait(false);
            }
        });
    }

    private static long HeaderBytes(IHeaderDictionary headers)
    {
        long total = 0;
        foreach (var (name, values) in headers)
        {
            total += name.Length + 4;
            foreach (var value in values)
            {
                total += value?.Length ?? 0;
            }
        }

        return total;
    }

    private static void Validate(OpenAIEndpointOptions options)
    {
        Positive(options.MaxRequestBodyBytes ?? 1, nameof(options.MaxRequestBodyBytes));
        Positive(options.BodyBytesPerContextToken, nameof(options.BodyBytesPerContextToken));
        Positive(options.MaxPromptCharactersPerToken, nameof(options.MaxPromptCharactersPerToken));
        Positive(options.MaxStopSequences, nameof(options.MaxStopSequences));
        Positive(options.MaxStopSequenceLength, nameof(options.MaxStopSequenceLength));
        Positive(options.MaxMessages, nameof(options.MaxMessages));
        Positive(options.MaxTools, nameof(options.MaxTools));
        Positive(options.MaxShortStringLength, nameof(options.MaxShortStringLength));
        Positive(options.MaxJsonDepth, nameof(options.MaxJsonDepth));
        ArgumentNullException.ThrowIfNull(options.RoutePrefix, nameof(options.RoutePrefix));
        var ids = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var model in options.Models)
        {
            if (string.IsNullOrWhiteSpace(model.Id) || !ids.Add(model.Id))
            {
                throw new ArgumentException($"OpenAIEndpointOptions.Models: each model needs its own non-empty id, and '{model.Id}' is empty or repeated.", nameof(options));
            }
        }
    }

    private static void Positive(long value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"OpenAIEndpointOptions.{name} must be at least 1, but was {value}.");
        }
    }
}
