using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OnnxGpt.Hosting;
using OnnxGpt.Models;
using OnnxGpt.Providers;

namespace OnnxGpt.Cli;

/// <summary>Loads the model a command names, logging to stderr.</summary>
internal static class ModelLoader
{
    /// <summary>Creates the logger factory: warnings (such as a provider fallback) always, everything with --verbose; all of it on stderr.</summary>
    public static ILoggerFactory CreateLoggerFactory(bool verbose) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning);
        builder.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        // stdout carries only the generated text or the JSON.
        builder.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    });

    /// <summary>Loads <paramref name="modelPath"/> (the embedded model when null) on the providers given, in order (CPU when none).</summary>
    public static GptModel Load(string? modelPath, IEnumerable<string>? executionProviders, ILoggerFactory loggerFactory)
    {
        var options = new GptOptions { ModelPath = string.IsNullOrWhiteSpace(modelPath) ? CommonOptions.DefaultModelPath : modelPath };
        foreach (var name in executionProviders ?? [])
        {
            options.ExecutionProviders.Add(new ExecutionProviderOptions(name));
        }

        return GptModel.Load(options, loggerFactory);
    }
}
