using System.Runtime.CompilerServices;
using OnnxGpt.Generation;

namespace OnnxGpt.Server;

/// <summary>
/// A diagnostic pace for the server (<c>Server:TokenDelay</c>): waits a fixed time before producing each token after
/// the first, so that a small, fast model's generation lasts long enough to watch, e.g. to disconnect from it mid-stream.
/// The wait does not observe cancellation; the generator underneath does, at the next token, so a cancelled
/// generation still ends as <see cref="GenerationCanceledException"/> with its partial result.
/// </summary>
internal sealed class PacedGenerator : DelegatingGptGenerator
{
    private readonly TimeSpan _delay;

    /// <summary>Paces <paramref name="inner"/>; its services (the model, the concurrency limit) stay reachable through <c>GetService</c>.</summary>
    /// <param name="inner">The generator that does the work; disposed with this one if it is <see cref="IDisposable"/>.</param>
    /// <param name="delay">The wait before each token after the first.</param>
    public PacedGenerator(IGptGenerator inner, TimeSpan delay)
        : base(inner)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(delay, TimeSpan.Zero);
        _delay = delay;
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var token in InnerGenerator.StreamAsync(prompt, options, cancellationToken).ConfigureAwait(false))
        {
            yield return token;
            if (token.Result is null)
            {
                await Task.Delay(_delay, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}
