using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OnnxGpt.Generation;

namespace OnnxGpt.Hosting;

/// <summary>
/// Returned by <c>AddGpt</c>: the registration of one model, for further configuration. <see cref="Use(Func{IGptGenerator, IGptGenerator})"/>
/// wraps the model's <see cref="IGptGenerator"/> in layers (as <see cref="ChatClientBuilder.Use(Func{IChatClient, IChatClient})"/>
/// does for chat clients), and <see cref="ChatClient"/> is the <see cref="ChatClientBuilder"/> of its
/// <see cref="IChatClient"/>, for Microsoft.Extensions.AI's middleware:
/// <c>services.AddGpt(...).ChatClient.UseLogging().UseOpenTelemetry().UseDistributedCache()</c>.
/// </summary>
public sealed class GptBuilder
{
    private readonly GptRegistration _registration;

    internal GptBuilder(IServiceCollection services, string? serviceKey, string optionsName, GptRegistration registration)
    {
        Services = services;
        ServiceKey = serviceKey;
        OptionsName = optionsName;
        _registration = registration;
    }

    /// <summary>The service collection the model is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The key of a keyed registration (<c>AddKeyedGpt</c>), or null for the default model.</summary>
    public string? ServiceKey { get; }

    /// <summary>The name of this model's <see cref="GptOptions"/> instance (the key, or <see cref="Microsoft.Extensions.Options.Options.DefaultName"/>).</summary>
    public string OptionsName { get; }

    /// <summary>
    /// The builder of this model's <see cref="IChatClient"/> (registered through Microsoft.Extensions.AI's
    /// <c>AddChatClient</c>, or <c>AddKeyedChatClient</c> for a keyed model): add middleware to it. The client at its
    /// core is OnnxGpt's <c>GptChatClient</c> over this model's generator; <c>IChatClient.GetService</c> finds it
    /// through the middleware.
    /// </summary>
    /// <exception cref="InvalidOperationException">An <see cref="IChatClient"/> was registered for this key before <c>AddGpt</c>: that registration wins, so configure it there.</exception>
    public ChatClientBuilder ChatClient => _registration.ChatClient
        ?? throw new InvalidOperationException($"An IChatClient was registered{(ServiceKey is null ? string.Empty : $" for key '{ServiceKey}'")} before AddGpt, so AddGpt did not register its own: add middleware to that registration instead.");

    /// <summary>Adds more configuration of this model's options.</summary>
    /// <param name="configure">Changes to apply after the earlier ones.</param>
    /// <returns>This builder.</returns>
    public GptBuilder Configure(Action<GptOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.Configure(OptionsName, configure);
        return this;
    }

    /// <summary>
    /// Wraps this model's <see cref="IGptGenerator"/> in a layer (a <see cref="DelegatingGptGenerator"/>, usually).
    /// The first layer added is the outermost, as with <see cref="ChatClientBuilder"/>; the backend's generator (with
    /// its concurrency limit) is the innermost. The chat client runs on the layered generator.
    /// </summary>
    /// <param name="layer">Takes the generator below and returns the one to use instead.</param>
    /// <returns>This builder.</returns>
    public GptBuilder Use(Func<IGptGenerator, IGptGenerator> layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        return Use((inner, _) => layer(inner));
    }

    /// <summary>Wraps this model's <see cref="IGptGenerator"/> in a layer that needs services (see <see cref="Use(Func{IGptGenerator, IGptGenerator})"/>).</summary>
    /// <param name="layer">Takes the generator below and the application's services, and returns the one to use instead.</param>
    /// <returns>This builder.</returns>
    public GptBuilder Use(Func<IGptGenerator, IServiceProvider, IGptGenerator> layer)
    {
        ArgumentNullException.ThrowIfNull(layer);
        _registration.Layers.Add(layer);
        return this;
    }
}
