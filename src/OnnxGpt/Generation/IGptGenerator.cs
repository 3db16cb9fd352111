using OnnxGpt.Models;

namespace OnnxGpt.Generation;

/// <summary>
/// Generates text from a prompt, token by token. The default implementation is <see cref="GptGenerator"/>;
/// substitute your own (a fake in tests, another backend) by implementing this interface.
/// Implementations are safe to call from several threads at once.
/// </summary>
public interface IGptGenerator
{
    /// <summary>The model this generator runs.</summary>
    GptModelInfo ModelInfo { get; }

    /// <summary>
    /// Streams generated tokens as they are produced. The final token carries <see cref="GeneratedToken.Result"/>.
    /// </summary>
    /// <param name="prompt">The prompt: text (a string converts implicitly) or token ids.</param>
    /// <param name="options">Per-request settings; null uses the defaults.</param>
    /// <param name="cancellationToken">Stops the generation within one token, throwing <see cref="GenerationCanceledException"/>.</param>
    /// <returns>The tokens, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A setting in <paramref name="options"/> is out of range, or a prompt token id is outside the vocabulary.</exception>
    /// <exception cref="ArgumentException">The prompt is empty and the model has no bos token.</exception>
    /// <exception cref="PromptTooLongException">The prompt leaves no room in the context.</exception>
    /// <exception cref="GenerationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The model was disposed.</exception>
    IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Finds a service of <paramref name="serviceType"/> in this generator or what it wraps (a layer of a
    /// <see cref="DelegatingGptGenerator"/> chain, the <see cref="GptModel"/>), as <c>IChatClient.GetService</c> does.
    /// </summary>
    /// <param name="serviceType">The type asked for.</param>
    /// <param name="serviceKey">A key; the built-in generators answer only unkeyed requests.</param>
    /// <returns>The service, or null.</returns>
    object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;
    }
}
