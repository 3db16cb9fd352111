using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OnnxGpt.AspNetCore;
using OnnxGpt.Chat;
using OnnxGpt.Providers;
using OnnxGpt.Telemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace OnnxGpt.Cli;

/// <summary>
/// <c>onnxgpt serve</c>: the OpenAI-compatible server (OnnxGpt.AspNetCore's <c>MapOpenAIEndpoints</c>) over one or
/// more model folders, on loopback unless <c>--urls</c> (or <c>ASPNETCORE_URLS</c>) says otherwise.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model", "-m")
        {
            Description = "A model folder to serve (repeatable: each is a model named after its folder, the first the default). Default: the embedded tiny-shakespeare model.",
            HelpName = "DIR",
        };
        var variant = CommonOptions.Variant();
        var providers = CommonOptions.ExecutionProviders();
        var urls = new Option<string?>("--urls")
        {
            Description = "The addresses to listen on, separated by ';'. Default: ASPNETCORE_URLS, else http://127.0.0.1:5180 (loopback only).",
            HelpName = "URL",
        };
        var apiKey = new Option<string?>("--api-key")
        {
            Description = "Require 'Authorization: Bearer KEY' on /v1 (401 otherwise). Default: ONNXGPT_API_KEY, else no key.",
            HelpName = "KEY",
        };
        var maxBody = NumberOption.Create<long>("--max-body-bytes", "The largest request body, in bytes (413 beyond). Default: 64 bytes a token of the largest context, plus 64 KiB.", "N");
        var maxConcurrent = NumberOption.Create<int>("--max-concurrent", 4, "Generations run at once per model.", "N");
        var maxQueued = NumberOption.Create<int>("--max-queued", 16, "Requests waiting for a generation slot per model; one more gets a 429.", "N");
        var maxTokens = NumberOption.Create<int>("--max-tokens", 128, "Tokens generated when a request sets no max_tokens.", "N");
        var prefix = new Option<string>("--route-prefix")
        {
            Description = "The prefix of the OpenAI routes.",
            HelpName = "PATH",
            DefaultValueFactory = _ => "/v1",
        };
        var metrics = new Option<bool>("--metrics")
        {
            Description = "Expose the OnnxGpt meter (token usage, durations, time to first token, running and queued requests, cache pool bytes) as Prometheus text at /metrics.",
        };
        var command = new Command("serve", "Serve models over OpenAI's HTTP API: /v1/chat/completions (tools, response_format, streaming), /v1/completions, /v1/models, /health.")
        {
            models, variant, providers, urls, apiKey, maxBody, maxConcurrent, maxQueued, maxTokens, prefix, metrics,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var stderr = r.InvocationConfiguration.Error;
            var folders = r.GetValue(models) is { Length: > 0 } given ? given : [CommonOptions.DefaultModelPath];
            var served = folders.Select(f => (Id: ModelId(f), Path: Path.GetFullPath(f))).ToList();
            if (served.GroupBy(m => m.Id, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } twice)
            {
                throw new CliUsageException($"Two --model folders are both named '{twice.Key}'; serve folders with different names.");
            }

            AtLeast(r.GetValue(maxBody) ?? 1, 1, "--max-body-bytes");
            AtLeast(r.GetValue(maxConcurrent), 1, "--max-concurrent");
            AtLeast(r.GetValue(maxQueued), 0, "--max-queued");
            AtLeast(r.GetValue(maxTokens), 1, "--max-tokens");
            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
            if (r.GetValue(urls) is { Length: > 0 } listen)
            {
                builder.Configuration["urls"] = listen;
            }

            builder.ConfigureOpenAIServer();
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(r.GetValue(CommonOptions.Verbose) ? LogLevel.Debug : LogLevel.Information);
            builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
            builder.Logging.AddProvider(new TextWriterLoggerProvider(stderr, includeExceptions: r.GetValue(CommonOptions.Verbose)));
            foreach (var (id, path) in served)
            {
                builder.Services.AddKeyedGpt(id, o =>
                {
                    o.ModelPath = path;
                    o.Variant = r.GetValue(variant);
                    foreach (var name in r.GetValue(providers) ?? [])
                    {
                        o.ExecutionProviders.Add(new ExecutionProviderOptions(name));
                    }

                    o.MaxConcurrentRequests = r.GetValue(maxConcurrent);
                    o.MaxQueuedRequests = r.GetValue(maxQueued);
                    o.Generation = new() { MaxNewTokens = r.GetValue(maxTokens) };
                });
                builder.Services.Configure<GptChatClientOptions>(id, o => o.ModelId = id);
            }

            var options = new OpenAIEndpointOptions
            {
                RoutePrefix = r.GetValue(prefix) ?? "/v1",
                ApiKey = r.GetValue(apiKey) ?? Environment.GetEnvironmentVariable("ONNXGPT_API_KEY"),
                MaxRequestBodyBytes = r.GetValue(maxBody),
            };
            foreach (var (id, _) in served)
            {
                options.Models.Add(new OpenAIServedModel(id, id));
            }

            if (r.GetValue(metrics))
            {
                builder.Services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService("onnxgpt")).WithMetrics(m => m.AddMeter(GptTelemetry.MeterName).AddPrometheusExporter());
            }

            await using var app = builder.Build();
            if (r.GetValue(metrics))
            {
                app.MapPrometheusScrapingEndpoint("/metrics");
            }

            app.MapOpenAIEndpoints(options);   // loads the models: a bad folder fails here, before listening
            await app.StartAsync(ct);
            await app.WaitForShutdownAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }

    private static void AtLeast(long value, long least, string flag)
    {
        if (value < least)
        {
            throw new CliUsageException($"{flag} must be at least {least}, but was {value}.");
        }
    }

    /// <summary>A folder's model id: its name (the embedded model is tiny-shakespeare).</summary>
    private static string ModelId(string folder)
    {
        var trimmed = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        var name = Path.GetFileName(trimmed);
        return name.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? Path.GetFileName(Path.GetDirectoryName(trimmed)) ?? name : name;
    }
}
