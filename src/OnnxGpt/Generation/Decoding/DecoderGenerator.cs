using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OnnxGpt.Models;

namespace OnnxGpt.Generation.Decoding;

/// <summary>
/// For backend authors: serves a <see cref="GptDecoder"/> as an <see cref="IGptGenerator"/> through OnnxGpt's one
/// generation loop: the same prompt preparation, option resolution and checks, sampling (or the backend's own
/// choice), stop sequences, cancellation, finish reasons, results, telemetry and conversation policy as
/// <see cref="GptGenerator"/>. Each request runs its own sequence on its calling thread (the thread pool's, when the
/// caller has a synchronization context). Safe to call from several threads at once.
/// </summary>
public sealed class DecoderGenerator : IGptGenerator
{
    private readonly GptDecoder _decoder;
    private readonly ILogger _logger;

    private DecoderGenerator(GptDecoder decoder, ILogger logger)
    {
        _decoder = decoder;
        _logger = logger;
    }

    /// <inheritdoc />
    public GptModelInfo ModelInfo => _decoder.Info;

    /// <summary>The decoder this generator runs (it does not own it).</summary>
    public GptDecoder Decoder => _decoder;

    /// <summary>Creates a generator over a decoder. The generator does not own the decoder: dispose the decoder yourself.</summary>
    /// <param name="decoder">The decoder.</param>
    /// <param name="loggerFactory">Where to log; null logs nothing.</param>
    /// <returns>The generator.</returns>
    public static DecoderGenerator Create(GptDecoder decoder, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        return new DecoderGenerator(decoder, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<DecoderGenerator>());
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType.IsInstanceOfType(this) ? this
            : serviceType.IsInstanceOfType(_decoder) ? _decoder
            : serviceType == typeof(GptOptions) ? _decoder.Options
            : null;
    }

    /// <inheritdoc />
    public IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(prompt, options, null, cancellationToken);

    /// <summary>Streams generated tokens, with the backend's own per-request settings; the final token carries <see cref="GeneratedToken.Result"/>.</summary>
    /// <param name="prompt">The prompt: text (a string converts implicitly) or token ids.</param>
    /// <param name="options">Per-request settings; null uses the defaults.</param>
    /// <param name="requestOptions">The backend's own settings (<see cref="DecoderRequest.RequestOptions"/>), or null.</param>
    /// <param name="cancellationToken">Stops the generation within one token, throwing <see cref="GenerationCanceledException"/>.</param>
    /// <returns>The tokens, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range, or a prompt token id is outside the vocabulary.</exception>
    /// <exception cref="ArgumentException">The backend lacks a setting (the message names it), or the prompt is empty and the model has no bos token.</exception>
    /// <exception cref="PromptTooLongException">The prompt leaves no room in the context.</exception>
    /// <exception cref="GenerationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The decoder was disposed.</exception>
    public async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options, object? requestOptions, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var info = _decoder.Info;
        _decoder.ValidateOptions(options);
        var settings = GenerationRequests.Resolve(options, _decoder.Options.Generation, _decoder.ModelDefaults, info.VocabularySize);
        var promptIds = GenerationRequests.PreparePrompt(prompt, info, _decoder.Encode);
        var maxNew = GenerationDefaults.MaxNewTokensFor(info, settings, promptIds.Count);
        var request = new DecoderRequest(promptIds, maxNew, settings, _decoder.Conversations.Capacity > 0 ? settings.ConversationId : null, requestOptions, cancellationToken);
        _decoder.Validate(request);
        if (request.ConversationId is not null && !_decoder.CanUseConversation(request))
        {
            request.ConversationId = null;
        }

        _decoder.ThrowIfDisposed();

        // A caller with a synchronization context (a UI) must not run the model on its thread.
        await ThreadPoolSwitch.IfNeeded();
        var state = new SequenceState(_decoder, settings, request.PromptIds, maxNew, Stopwatch.GetTimestamp(), _decoder.SamplesNatively);
        var row = new GenerationRow(state, request.ConversationId, cancellationToken) { Cache = SequenceRowDecoder.For(request) };
        using var engine = new GenerationEngine(_decoder, 1);
        await foreach (var token in engine.RunAloneAsync(row).ConfigureAwait(false))
        {
            if (token.Result is { } result && _logger.IsEnabled(LogLevel.Debug))
            {
                Log.GenerationFinished(_logger, result.FinishReason.ToString(), result.PromptTokenCount, result.GeneratedTokenCount, result.TokensPerSecond);
            }

            yield return token;
        }
    }
}
