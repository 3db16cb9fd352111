using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.GenAI;

/// <summary>Creates a <see cref="GenAIGenerator"/> for each registered model whose <see cref="GptOptions.Backend"/> is <see cref="GptBackend.GenAI"/>.</summary>
internal sealed class GenAIBackendFactory : IGptBackendFactory
{
    public string Name => GptBackend.GenAI;

    /// <summary>The model's <see cref="GenAIOptions"/> are the instance of the same name as its <see cref="GptOptions"/>.</summary>
    public IGptGenerator Create(IServiceProvider services, string optionsName, GptOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(optionsName);
        ArgumentNullException.ThrowIfNull(options);
        var genAIOptions = services.GetService<IOptionsMonitor<GenAIOptions>>()?.Get(optionsName) ?? new GenAIOptions();
        return GenAIGenerator.Create(options, genAIOptions, services.GetService<ILoggerFactory>());
    }
}
