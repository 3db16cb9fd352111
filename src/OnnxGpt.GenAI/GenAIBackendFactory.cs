using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.GenAI;

/// <summary>Marks a model registration (its options name) that <c>UseOnnxRuntimeGenAI</c> configured with <see cref="GenAIOptions"/>.</summary>
internal sealed record GenAIModelRegistration(string OptionsName);

/// <summary>Creates a <see cref="GenAIGenerator"/> for each registered model whose <see cref="GptOptions.Backend"/> is <see cref="GptBackend.GenAI"/>.</summary>
internal sealed class GenAIBackendFactory : IGptBackendFactory
{
    public GptBackend Backend => GptBackend.GenAI;

    public IGptGenerator Create(IServiceProvider services, GptOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        return GenAIGenerator.Create(options, FindGenAIOptions(services, options), services.GetService<ILoggerFactory>());
    }

    /// <summary>
    /// The <see cref="GenAIOptions"/> of the model whose <see cref="GptOptions"/> these are: the options monitor caches
    /// one instance per name, so the registration is the one whose named instance is this very object.
    /// </summary>
    private static GenAIOptions FindGenAIOptions(IServiceProvider services, GptOptions options)
    {
        var gptOptions = services.GetRequiredService<IOptionsMonitor<GptOptions>>();
        foreach (var registration in services.GetServices<GenAIModelRegistration>().Reverse())
        {
            if (ReferenceEquals(gptOptions.Get(registration.OptionsName), options))
            {
                return services.GetRequiredService<IOptionsMonitor<GenAIOptions>>().Get(registration.OptionsName);
            }
        }

        return new GenAIOptions();
    }
}
