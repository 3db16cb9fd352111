using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OnnxGpt.Models;
using OnnxGpt.Sampling;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Generation;

/// <summary>
/// Generates text with a <see cref="GptModel"/>: prefills the prompt in one run, then produces one token per run
/// through the KV cache, samples it, decodes it without breaking characters, and streams it.
/// Safe to call from several threads at once: each request has its own cache and sampler.
/// </summary>
public sealed class GptGenerator : IGptGenerator
{
    private readonly GptModel _model;
    private readonly ILogger _logger;

    private GptGenerator(GptModel model, ILogger logger)
    {
        _model = model;
        _logger = logger;
    }

    /// <inheritdoc />
    public GptModelInfo ModelInfo => _model.Info;

    /// <summary>The model this generator runs.</summary>
    public GptModel Model => _model;

    /// <summary>Creates a generator over a loaded model. The generator does not own the model: dispose the model yourself.</summary>
    /// <param name="model">The model.</param>
    /// <param name="loggerFactory">Where to log; null logs nothing.</param>
    /// <returns>The generator.</returns>
    public static GptGenerator Create(GptModel model, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new GptGenerator(model, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<GptGenerator>());
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var settings = Resolve(options);
        var promptIds = PreparePrompt(prompt);
        var info = _model.Info;
        if (promptIds.Count >= info.ContextLength)
        {
            throw new PromptTooLongException(promptIds.Count, info.ContextLength);
        }

        var maxNew = MaxNewTokens(settings, promptIds.Count);
        var capacity = checked(promptIds.Count + maxNew);
        var started = Stopwatch.GetTimestamp();
        var firstTokenAt = 0L;

        // A caller with a synchronization context (a UI) must not run the model on its thread.
        await ThreadPoolSwitch.IfNeeded();

        var sequence = new int[capacity];
        for (var i = 0; i < promptIds.Count; i++)
        {
            sequence[i] = promptIds[i];
        }

        var generated = new List<int>(Math.Min(maxNew, 1024));
        var text = new StringBuilder();
        var sampler = TokenSampler.Create(settings);
        var detokenizer = _model.Tokenizer is { } tokenizer ? new StreamingDetokenizer(tokenizer) : null;
        var stops = new StopSequenceMatcher(settings.StopSequences);
        var eos = info.EosTokenIds;

        using var decoder = new DecoderSession(_model, capacity, cancellationToken);
        void ThrowIfCancelled()
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw new GenerationCanceledException(BuildResult(FinishReason.Cancelled), cancellationToken);
            }
        }

        GenerationResult BuildResult(FinishReason reason)
        {
            var now = Stopwatch.GetTimestamp();
            return new GenerationResult
            {
                Text = text.ToString(),
                PromptTokenIds = promptIds,
                TokenIds = generated.ToArray(),
                FinishReason = reason,
                ExecutionProvider = _model.ExecutionProvider,
                TimeToFirstToken = firstTokenAt == 0 ? Stopwatch.GetElapsedTime(started, now) : Stopwatch.GetElapsedTime(started, firstTokenAt),
                TotalTime = Stopwatch.GetElapsedTime(started, now),
            };
        }

        ThrowIfCancelled();
        Run(() => decoder.Prefill(promptIds), BuildResult, cancellationToken);
        for (var index = 0; ; index++)
        {
            ThrowIfCancelled();
            var token = sampler.Next(decoder.Logits, sequence.AsSpan(0, promptIds.Count + index));
            if (firstTokenAt == 0)
            {
                firstTokenAt = Stopwatch.GetTimestamp();
            }

            sequence[promptIds.Count + index] = token;
            generated.Add(token);

            FinishReason? finish = null;
            string released;
            if (eos.Contains(token))
            {
                finish = FinishReason.Eos;
                released = stops.Push(detokenizer?.Flush() ?? string.Empty).Released + stops.Flush();
            }
            else
            {
                var (fragment, stopped) = stops.Push(detokenizer?.Append(token) ?? string.Empty);
                released = fragment;
                if (stopped)
                {
                    finish = FinishReason.Stop;
                }
                else if (generated.Count >= maxNew)
                {
                    finish = FinishReason.Length;
                    released += stops.Push(detokenizer?.Flush() ?? string.Empty).Released + stops.Flush();
                }
            }

            text.Append(released);
            if (finish is { } reason)
            {
                var result = BuildResult(reason);
                if (_logger.IsEnabled(LogLevel.Debug))
                {
                    Log.GenerationFinished(_logger, reason.ToString(), result.PromptTokenCount, result.GeneratedTokenCount, result.TokensPerSecond);
                }
                yield return new GeneratedToken(token, released, index, result);
                yield break;
            }

            yield return new GeneratedToken(token, released, index);
            await ThreadPoolSwitch.IfNeeded();
            ThrowIfCancelled();
            Run(() => decoder.Step(token), BuildResult, cancellationToken);
        }
    }

    private static void Run(Action run, Func<FinishReason, GenerationResult> partial, CancellationToken cancellationToken)
    {
        try
        {
            run();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new GenerationCanceledException(partial(FinishReason.Cancelled), cancellationToken);
        }
    }

    private GenerationOptions Resolve(GenerationOptions? request)
    {
        request?.Validate();
        var defaults = _model.Info.Defaults;
        var modelDefaults = new GenerationOptions
        {
            DoSample = defaults.DoSample,
            Temperature = defaults.Temperature,
            TopK = defaults.TopK,
            TopP = defaults.TopP,
            MinP = defaults.MinP,
            RepetitionPenalty = defaults.RepetitionPenalty,
            MaxNewTokens = defaults.MaxNewTokens,
        };
        return (request ?? new GenerationOptions()).WithDefaults(_model.Options.Generation).WithDefaults(modelDefaults);
    }

    private int MaxNewTokens(GenerationOptions settings, int promptLength)
    {
        var room = _model.Info.ContextLength - promptLength;
        var wanted = settings.MaxNewTokens
            ?? (_model.Info.Defaults.MaxLength is { } maxLength && maxLength > promptLength ? maxLength - promptLength : room);
        return Math.Max(1, Math.Min(wanted, room));
    }

    private IReadOnlyList<int> PreparePrompt(GptPrompt prompt)
    {
        var ids = prompt.TokenIds ?? _model.RequireTokenizer().Encode(prompt.Text!);
        if (ids.Count == 0)
        {
            ids = _model.Info.BosTokenId is { } bos
                ? [bos]
                : throw new ArgumentException("The prompt is empty and the model has no bos token to start from; give at least one token.", nameof(prompt));
        }

        var vocabulary = _model.Info.VocabularySize;
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)vocabulary)
            {
                throw new ArgumentOutOfRangeException(nameof(prompt), id, $"Prompt token id {id} is outside the model's vocabulary (0..{vocabulary - 1}).");
            }
        }

        return ids;
    }
}
