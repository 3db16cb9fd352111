using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OnnxGpt.Hosting;
using OnnxGpt.Models;
using OnnxGpt.Providers;

namespace OnnxGpt.Cli;

/// <summary>Loads the model a command names, logging to stderr.</summary>
internal static class ModelLoader
{
    /// <summary>
    /// Creates the logger factory: with --verbose, everything the library logs (what was loaded, why a provider was
    /// skipped) goes to stderr; without it nothing is logged, so stderr holds only the summary or the one-line error.
    /// </summary>
    public static ILoggerFactory CreateLoggerFactory(bool verbose) => LoggerFactory.Create(builder =>
    {
        builder.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.None);
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
