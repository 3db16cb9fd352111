namespace OnnxGpt.Generation;

/// <summary>Convenience methods over <see cref="IGptGenerator"/>.</summary>
public static class GptGeneratorExtensions
{
    /// <summary>Generates the whole result at once.</summary>
    /// <param name="generator">The generator.</param>
    /// <param name="prompt">The prompt: text (a string converts implicitly) or token ids.</param>
    /// <param name="options">Per-request settings; null uses the defaults.</param>
    /// <param name="cancellationToken">Stops the generation, throwing <see cref="GenerationCanceledException"/>.</param>
    /// <returns>The text, ids, finish reason, usage and timings.</returns>
    public static async Task<GenerationResult> GenerateAsync(this IGptGenerator generator, GptPrompt prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generator);
        GenerationResult? result = null;
        await foreach (var token in generator.StreamAsync(prompt, options, cancellationToken).ConfigureAwait(false))
        {
            result = token.Result ?? result;
        }

        return result ?? throw new InvalidOperationException($"{generator.GetType().Name} ended its stream without a final token carrying the result.");
    }

    /// <summary>Streams tokens for a prompt given as token ids.</summary>
    /// <param name="generator">The generator.</param>
    /// <param name="promptTokenIds">The prompt's token ids, fed as they are.</param>
    /// <param name="options">Per-request settings; null uses the defaults.</param>
    /// <param name="cancellationToken">Stops the generation within one token.</param>
    /// <returns>The tokens, in order.</returns>
    public static IAsyncEnumerable<GeneratedToken> StreamAsync(this IGptGenerator generator, IEnumerable<int> promptTokenIds, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generator);
        return generator.StreamAsync(GptPrompt.FromTokenIds(promptTokenIds), options, cancellationToken);
    }

    /// <summary>Generates the whole result for a prompt given as token ids.</summary>
    /// <param name="generator">The generator.</param>
    /// <param name="promptTokenIds">The prompt's token ids, fed as they are.</param>
    /// <param name="options">Per-request settings; null uses the defaults.</param>
    /// <param name="cancellationToken">Stops the generation.</param>
    /// <returns>The text, ids, finish reason, usage and timings.</returns>
    public static Task<GenerationResult> GenerateAsync(this IGptGenerator generator, IEnumerable<int> promptTokenIds, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        generator.GenerateAsync(GptPrompt.FromTokenIds(promptTokenIds), options, cancellationToken);
}
