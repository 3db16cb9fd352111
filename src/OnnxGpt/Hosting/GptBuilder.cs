using Microsoft.Extensions.DependencyInjection;

namespace OnnxGpt.Hosting;

/// <summary>Returned by <c>AddGpt</c>: the registration of one model, for further configuration.</summary>
public sealed class GptBuilder
{
    internal GptBuilder(IServiceCollection services, string? serviceKey, string optionsName)
    {
        Services = services;
        ServiceKey = serviceKey;
        OptionsName = optionsName;
    }

    /// <summary>The service collection the model is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The key of a keyed registration (<c>AddKeyedGpt</c>), or null for the default model.</summary>
    public string? ServiceKey { get; }

    /// <summary>The name of this model's <see cref="GptOptions"/> instance (the key, or <see cref="Microsoft.Extensions.Options.Options.DefaultName"/>).</summary>
    public string OptionsName { get; }

    /// <summary>Adds more configuration of this model's options.</summary>
    /// <param name="configure">Changes to apply after the earlier ones.</param>
    /// <returns>This builder.</returns>
    public GptBuilder Configure(Action<GptOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(OptionsName, configure);
        return this;
    }
}
