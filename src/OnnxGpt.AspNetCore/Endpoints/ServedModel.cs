using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OnnxGpt.Chat;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.AspNetCore;

/// <summary>One served model, resolved from the services through their public API: its chat client and generator (keyed or not), and what they expose.</summary>
internal sealed class ServedModel
{
    private ServedModel(string id, IChatClient chat, IGptGenerator generator)
    {
        Id = id;
        Chat = chat;
        Generator = generator;
        GptChat = chat.GetService<GptChatClient>();
        Model = generator.GetService(typeof(GptModel)) as GptModel;
        Limiter = generator.GetService(typeof(ConcurrencyLimitedGenerator)) as ConcurrencyLimitedGenerator;
        Created = File.Exists(generator.ModelInfo.GraphPath)
            ? new DateTimeOffset(File.GetLastWriteTimeUtc(generator.ModelInfo.GraphPath)).ToUnixTimeSeconds()
            : DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    }

    public string Id { get; }

    public IChatClient Chat { get; }

    public IGptGenerator Generator { get; }

    /// <summary>OnnxGpt's chat client when the registered one is (or wraps) it: renders the prompt to count its tokens.</summary>
    public GptChatClient? GptChat { get; }

    /// <summary>The model on OnnxGpt's own backend: its tokenizer and cache statistics.</summary>
    public GptModel? Model { get; }

    /// <summary>The concurrency limit, when <c>GptOptions.MaxConcurrentRequests</c> is set.</summary>
    public ConcurrencyLimitedGenerator? Limiter { get; }

    public long Created { get; }

    public int ContextLength => Generator.ModelInfo.ContextLength;

    public static ServedModel Resolve(IServiceProvider services, OpenAIServedModel served)
    {
        var chat = served.ServiceKey is { } key ? services.GetRequiredKeyedService<IChatClient>(key) : services.GetRequiredService<IChatClient>();
        var generator = served.ServiceKey is { } k ? services.GetRequiredKeyedService<IGptGenerator>(k) : services.GetRequiredService<IGptGenerator>();
        return new ServedModel(served.Id, chat, generator);
    }

    /// <summary>The default registration, under its chat client's model id.</summary>
    public static ServedModel ResolveDefault(IServiceProvider services)
    {
        var chat = services.GetRequiredService<IChatClient>();
        var generator = services.GetRequiredService<IGptGenerator>();
        var id = chat.GetService<ChatClientMetadata>()?.DefaultModelId ?? "onnxgpt";
        return new ServedModel(id, chat, generator);
    }
}
