using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using OnnxGpt.GenAI;
using OnnxGpt.Hosting;
using OnnxGpt.Generation;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers onnxruntime-genai as a backend of OnnxGpt's <c>AddGpt</c>.</summary>
public static class GenAIServiceCollectionExtensions
{
    /// <summary>
    /// Runs this model with onnxruntime-genai: sets its <see cref="GptOptions.Backend"/> to <see cref="GptBackend.GenAI"/>
    /// and registers the backend. <c>IGptGenerator</c> then resolves to a <see cref="GenAIGenerator"/> (wrapped in
    /// <see cref="ConcurrencyLimitedGenerator"/> when <see cref="GptOptions.MaxConcurrentRequests"/> is set).
    /// The model folder must have a <c>genai_config.json</c>; the application references the onnxruntime-genai natives
    /// (Microsoft.ML.OnnxRuntimeGenAI, .Cuda or .DirectML).
    /// </summary>
    /// <param name="builder">The model's registration, from <c>AddGpt</c> or <c>AddKeyedGpt</c>.</param>
    /// <param name="configure">Sets onnxruntime-genai's own settings (LoRA adapters, configuration overlay); null: none.</param>
    /// <returns>The builder.</returns>
    public static GptBuilder UseOnnxRuntimeGenAI(this GptBuilder builder, Action<GenAIOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Register(builder);
        if (configure is not null)
        {
            builder.Services.Configure(builder.OptionsName, configure);
        }

        return builder;
    }

    /// <summary>Runs this model with onnxruntime-genai, its <see cref="GenAIOptions"/> bound from a configuration section.</summary>
    /// <param name="builder">The model's registration, from <c>AddGpt</c> or <c>AddKeyedGpt</c>.</param>
    /// <param name="configuration">The section holding <see cref="GenAIOptions"/>' settings (e.g. <c>"Gpt:GenAI"</c>).</param>
    /// <returns>The builder.</returns>
    public static GptBuilder UseOnnxRuntimeGenAI(this GptBuilder builder, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configuration);
        Register(builder);
        builder.Services.Configure<GenAIOptions>(builder.OptionsName, configuration);
        return builder;
    }

    /// <summary>
    /// Registers the onnxruntime-genai backend without choosing it for any model: every model whose configuration says
    /// <c>"Backend": "GenAI"</c> then runs with it. Calling it more than once is harmless.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddOnnxRuntimeGenAIBackend(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IGptBackendFactory, GenAIBackendFactory>());
        return services;
    }

    private static void Register(GptBuilder builder)
    {
        builder.Configure(o => o.Backend = GptBackend.GenAI);
        builder.Services.AddOnnxRuntimeGenAIBackend();
        builder.Services.AddOptions<GenAIOptions>(builder.OptionsName);
    }
}
