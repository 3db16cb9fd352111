using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OnnxGpt.Chat;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers OnnxGpt models and generators in a service collection.</summary>
public static class GptServiceCollectionExtensions
{
    /// <summary>
    /// Registers the default model (<see cref="GptModel"/>, a singleton loaded on first use), its
    /// <see cref="IGptGenerator"/> and an <see cref="IChatClient"/> over it (<see cref="GptChatClient"/>), configured in code.
    /// Options are validated when the host starts. Every service is added only if none of its type is registered yet.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the model path, execution providers and defaults.</param>
    /// <returns>A builder for further configuration.</returns>
    public static GptBuilder AddGpt(this IServiceCollection services, Action<GptOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return Register(services, null).Configure(configure);
    }

    /// <summary>Registers the default model and its generator, bound from a configuration section (e.g. <c>"Gpt"</c>).</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The section holding <see cref="GptOptions"/>' settings.</param>
    /// <returns>A builder for further configuration.</returns>
    public static GptBuilder AddGpt(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = Register(services, null);
        services.Configure<GptOptions>(builder.OptionsName, configuration);
        return builder;
    }

    /// <summary>
    /// Registers a named model, resolved with <c>[FromKeyedServices(key)]</c> as <see cref="GptModel"/>,
    /// <see cref="IGptGenerator"/> or <see cref="IChatClient"/>. Each keyed model has its own options, providers and caches.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="key">The model's key.</param>
    /// <param name="configure">Sets the model path, execution providers and defaults.</param>
    /// <returns>A builder for further configuration.</returns>
    public static GptBuilder AddKeyedGpt(this IServiceCollection services, string key, Action<GptOptions> configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentNullException.ThrowIfNull(configure);
        return Register(services, key).Configure(configure);
    }

    /// <summary>Registers a named model bound from a configuration section.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="key">The model's key.</param>
    /// <param name="configuration">The section holding <see cref="GptOptions"/>' settings.</param>
    /// <returns>A builder for further configuration.</returns>
    public static GptBuilder AddKeyedGpt(this IServiceCollection services, string key, IConfiguration configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentNullException.ThrowIfNull(configuration);
        var builder = Register(services, key);
        services.Configure<GptOptions>(builder.OptionsName, configuration);
        return builder;
    }

    private static GptBuilder Register(IServiceCollection services, string? key)
    {
        ArgumentNullException.ThrowIfNull(services);
        var name = key ?? Options.Options.DefaultName;
        services.AddOptions<GptOptions>(name).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GptOptions>, GptOptionsValidator>());

        // Every AddGpt call for one model shares its layers and chat client builder.
        var registration = services.Select(d => d.IsKeyedService ? null : d.ImplementationInstance).OfType<GptRegistration>().FirstOrDefault(r => r.OptionsName == name);
        if (registration is not null)
        {
            return new GptBuilder(services, key, name, registration);
        }

        registration = new GptRegistration(name);
        services.AddSingleton(registration);
        if (key is null)
        {
            services.TryAddSingleton(sp => LoadModel(sp, name));
            services.TryAddSingleton(sp => CreateGenerator(sp, registration, () => sp.GetRequiredService<GptModel>()));
            if (!services.Any(d => d.ServiceType == typeof(IChatClient) && !d.IsKeyedService))
            {
                registration.ChatClient = services.AddChatClient(sp => CreateChatClient(sp, name, sp.GetRequiredService<IGptGenerator>()));
            }
        }
        else
        {
            services.TryAddKeyedSingleton(key, (sp, _) => LoadModel(sp, name));
            services.TryAddKeyedSingleton(key, (sp, k) => CreateGenerator(sp, registration, () => sp.GetRequiredKeyedService<GptModel>(k)));
            if (!services.Any(d => d.ServiceType == typeof(IChatClient) && d.IsKeyedService && Equals(d.ServiceKey, key)))
            {
                registration.ChatClient = services.AddKeyedChatClient(key, sp => CreateChatClient(sp, name, sp.GetRequiredKeyedService<IGptGenerator>(key)));
            }
        }

        return new GptBuilder(services, key, name, registration);
    }

    private static IGptGenerator CreateGenerator(IServiceProvider services, GptRegistration registration, Func<GptModel> model)
    {
        var name = registration.OptionsName;
        var options = services.GetRequiredService<IOptionsMonitor<GptOptions>>().Get(name);
        var generator = GptBackend.IsOnnxGpt(options.Backend)
            ? GptGenerator.Create(model(), services.GetService<ILoggerFactory>())
            : services.GetServices<IGptBackendFactory>().LastOrDefault(f => GptBackend.Same(f.Name, options.Backend))?.Create(services, name, options)
                ?? throw new InvalidOperationException($"GptOptions.Backend is '{options.Backend}', but no backend of that name is registered: for {GptBackend.GenAI}, reference the OnnxGpt.GenAI package and call .UseOnnxRuntimeGenAI() on AddGpt's builder.");

        generator = options.MaxConcurrentRequests is { } limit
            ? new ConcurrencyLimitedGenerator(generator, limit, options.MaxQueuedRequests)
            : generator;
        return registration.Apply(generator, services);
    }

    private static GptChatClient CreateChatClient(IServiceProvider services, string name, IGptGenerator generator)
    {
        var chat = services.GetRequiredService<IOptionsMonitor<GptChatClientOptions>>().Get(name);
        var gpt = services.GetRequiredService<IOptionsMonitor<GptOptions>>().Get(name);
        return new GptChatClient(
            generator,
            new GptChatClientOptions
            {
                ChatTemplate = chat.ChatTemplate,
                TemplateName = chat.TemplateName,
                ModelId = chat.ModelId,
                DefaultStopSequences = chat.DefaultStopSequences ?? gpt.Generation?.StopSequences,
                ContextOverflow = chat.ContextOverflow,
                ReservedAnswerTokens = chat.ReservedAnswerTokens,
            },
            services.GetService<ILoggerFactory>());
    }

    private static GptModel LoadModel(IServiceProvider services, string name) =>
        GptModel.Load(services.GetRequiredService<IOptionsMonitor<GptOptions>>().Get(name), services.GetService<ILoggerFactory>());
}
