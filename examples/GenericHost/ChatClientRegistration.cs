using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using System.ClientModel;

namespace GenericHost;

/// <summary>
/// Chooses the app's <see cref="IChatClient"/> by configuration: the local model (<c>"Gpt"</c> section, through
/// <c>AddGpt</c>), or, when <c>"Chat:Remote:Endpoint"</c> is set, any OpenAI-compatible engine (another machine
/// running examples/OnnxGpt.Server, or a hosted service) through Microsoft.Extensions.AI.OpenAI. The app's code
/// depends on <see cref="IChatClient"/> alone, so outgrowing one machine is a configuration change.
/// </summary>
public static class ChatClientRegistration
{
    public static IServiceCollection AddChat(this IServiceCollection services, IConfiguration configuration)
    {
        var remote = configuration.GetSection("Chat:Remote");
        if (remote["Endpoint"] is not { Length: > 0 } endpoint)
        {
            services.AddGpt(configuration.GetSection("Gpt"));
            return services;
        }

        var model = remote["Model"] is { Length: > 0 } name
            ? name
            : throw new InvalidOperationException("Chat:Remote:Model is required when Chat:Remote:Endpoint is set (the model id the remote engine serves).");
        services.AddSingleton(_ => new OpenAIClient(new ApiKeyCredential(remote["ApiKey"] ?? "unused"), new OpenAIClientOptions { Endpoint = new Uri(endpoint) })
            .GetChatClient(model)
            .AsIChatClient());
        return services;
    }
}
