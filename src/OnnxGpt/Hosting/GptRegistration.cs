using Microsoft.Extensions.AI;
using OnnxGpt.Generation;

namespace OnnxGpt.Hosting;

/// <summary>What every <c>AddGpt</c> call for one options name shares: the generator's layers and the chat client's builder.</summary>
internal sealed class GptRegistration(string optionsName)
{
    public string OptionsName { get; } = optionsName;

    /// <summary>The layers, outermost first.</summary>
    public List<Func<IGptGenerator, IServiceProvider, IGptGenerator>> Layers { get; } = [];

    /// <summary>The chat client's builder, when <c>AddGpt</c> registered the chat client.</summary>
    public ChatClientBuilder? ChatClient { get; set; }

    /// <summary>Wraps <paramref name="generator"/> in the layers, the first added outermost.</summary>
    public IGptGenerator Apply(IGptGenerator generator, IServiceProvider services)
    {
        for (var i = Layers.Count - 1; i >= 0; i--)
        {
            generator = Layers[i](generator, services) ?? throw new InvalidOperationException($"A layer added with GptBuilder.Use returned null for the model '{OptionsName}'.");
        }

        return generator;
    }
}
