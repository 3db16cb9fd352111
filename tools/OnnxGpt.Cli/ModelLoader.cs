using Microsoft.Extensions.Logging;
using OnnxGpt.Generation;
using OnnxGpt.Providers;

namespace OnnxGpt.Cli;

/// <summary>Loads the model a command names, logging to stderr.</summary>
internal static class ModelLoader
{
    /// <summary>
    /// Creates the logger factory writing to the command's <paramref name="stderr"/>: warnings always (a provider that
    /// was skipped and why), and with --verbose everything the library logs (what was loaded, each generation).
    /// </summary>
    public static ILoggerFactory CreateLoggerFactory(bool verbose, TextWriter stderr) => LoggerFactory.Create(builder =>
    {
        // Warnings (a provider that could not load, a configuration value ignored) always reach standard error;
        // --verbose adds what was loaded and each generation. stdout carries only the generated text or the JSON.
        builder.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Warning);
        builder.AddProvider(new TextWriterLoggerProvider(stderr, includeExceptions: verbose));
    });

    /// <summary>Loads <paramref name="modelPath"/> (the embedded model when null), its <paramref name="variant"/> (model.onnx when null), on the providers given, in order (CPU when none).</summary>
    public static GptModel Load(string? modelPath, string? variant, IEnumerable<string>? executionProviders, ILoggerFactory loggerFactory) =>
        GptModel.Load(Options(modelPath, variant, executionProviders), loggerFactory);

    /// <summary>Creates the generator of the backend asked for.</summary>
    public static LoadedGenerator LoadGenerator(string? modelPath, string? variant, IEnumerable<string>? executionProviders, string backend, ILoggerFactory loggerFactory, string? draftModelPath = null)
    {
        var options = Options(modelPath, variant, executionProviders);
        options.DraftModelPath = draftModelPath;
        if (GptBackend.Same(backend, GptBackend.GenAI))
        {
#if ONNXGPT_GENAI
            var genai = OnnxGpt.GenAI.GenAIGenerator.Create(options, loggerFactory);
            return new LoadedGenerator(genai, genai.Tokenizer, genai);
#else
            throw new CliUsageException("This build of onnxgpt has no onnxruntime-genai backend (it is built for CUDA; GenAI ships against the CPU natives). Use the default backend.");
#endif
        }

        var model = GptModel.Load(options, loggerFactory);
        return new LoadedGenerator(GptGenerator.Create(model, loggerFactory), model.Tokenizer, model);
    }

    private static GptOptions Options(string? modelPath, string? variant, IEnumerable<string>? executionProviders)
    {
        var options = new GptOptions { ModelPath = string.IsNullOrWhiteSpace(modelPath) ? CommonOptions.DefaultModelPath : modelPath, Variant = variant };
        foreach (var name in executionProviders ?? [])
        {
            options.ExecutionProviders.Add(new ExecutionProviderOptions(name));
        }

        return options;
    }
}
