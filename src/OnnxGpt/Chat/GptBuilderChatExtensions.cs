using OnnxGpt.Chat;
using OnnxGpt.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures the <see cref="Microsoft.Extensions.AI.IChatClient"/> that <c>AddGpt</c> registers.</summary>
public static class GptBuilderChatExtensions
{
    /// <summary>Configures this model's chat client: its template, model id and default stop sequences.</summary>
    /// <param name="builder">The builder <c>AddGpt</c> or <c>AddKeyedGpt</c> returned.</param>
    /// <param name="configure">Changes to the options.</param>
    /// <returns>The builder.</returns>
    public static GptBuilder ConfigureChat(this GptBuilder builder, Action<GptChatClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(builder.OptionsName, configure);
        return builder;
    }
}
