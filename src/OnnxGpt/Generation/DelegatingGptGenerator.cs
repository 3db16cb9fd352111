using OnnxGpt.Models;

namespace OnnxGpt.Generation;

/// <summary>
/// A generator that passes every call to an inner one: derive from it to add behaviour around generation (limits,
/// logging, pacing), as Microsoft.Extensions.AI's <c>DelegatingChatClient</c> does for chat clients.
/// <see cref="GetService"/> answers with this generator when it is of the asked type, else asks the inner one, so a
/// caller finds any layer of a chain (for example <c>GetService&lt;ConcurrencyLimitedGenerator&gt;()</c>).
/// </summary>
public abstract class DelegatingGptGenerator : IGptGenerator, IDisposable
{
    /// <summary>Wraps <paramref name="innerGenerator"/>.</summary>
    /// <param name="innerGenerator">The generator calls go to; disposed with this one if it is <see cref="IDisposable"/>.</param>
    protected DelegatingGptGenerator(IGptGenerator innerGenerator) =>
        InnerGenerator = innerGenerator ?? throw new ArgumentNullException(nameof(innerGenerator));

    /// <summary>The generator calls go to.</summary>
    protected IGptGenerator InnerGenerator { get; }

    /// <inheritdoc />
    public virtual GptModelInfo ModelInfo => InnerGenerator.ModelInfo;

    /// <inheritdoc />
    public virtual IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        InnerGenerator.StreamAsync(prompt, options, cancellationToken);

    /// <inheritdoc />
    public virtual object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : InnerGenerator.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the inner generator.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            (InnerGenerator as IDisposable)?.Dispose();
        }
    }
}
