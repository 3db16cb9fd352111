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
        var eos = info.EosTokenIds;
        var sampler = TokenSampler.Create(settings, promptIds.Count, eos);
        var detokenizer = _model.Tokenizer is { } tokenizer ? new StreamingDetokenizer(tokenizer) : null;
        var stops = new StopSequenceMatcher(settings.StopSequences);
        var topIds = settings.TopLogprobs is > 0 ? new int[settings.TopLogprobs.Value] : null;

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
        try
        {
            decoder.Prefill(promptIds);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new GenerationCanceledException(BuildResult(FinishReason.Cancelled), cancellationToken);
        }

        for (var index = 0; ; index++)
        {
            ThrowIfCancelled();
            var token = sampler.Next(decoder.Logits, sequence.AsSpan(0, promptIds.Count + index), out var logprob);
            if (firstTokenAt == 0)
            {
                firstTokenAt = Stopwatch.GetTimestamp();
            }

            // Only when asked: the sampler left the final scores in decoder.Logits.
            var alternatives = settings.TopLogprobs is { } wanted ? TopLogprobs(decoder.Logits, wanted, topIds, sampler.LastLogSumExp) : null;
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
                yield return new GeneratedToken(token, released, index, result) { Logprob = logprob, TopLogprobs = alternatives };
                yield break;
            }

            yield return new GeneratedToken(token, released, index) { Logprob = logprob, TopLogprobs = alternatives };
            await ThreadPoolSwitch.IfNeeded();
            ThrowIfCancelled();
            try
            {
                decoder.Step(token);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw new GenerationCanceledException(BuildResult(FinishReason.Cancelled), cancellationToken);
            }
        }
    }

    /// <summary>
    /// Runs the prompt and returns the distribution its first generated token would be chosen from: the same stages
    /// as <see cref="StreamAsync"/> applies for the first token (the warpers only when the options sample), on the
    /// same resolved options. Nothing is sampled.
    /// </summary>
    /// <param name="prompt">The prompt: text (a string converts implicitly) or token ids.</param>
    /// <param name="options">Per-request settings; null uses the defaults. <see cref="GenerationOptions.Seed"/>, lengths and stop sequences play no part.</param>
    /// <param name="cancellationToken">Stops the prompt's run.</param>
    /// <returns>The allowed tokens with their probabilities.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A setting in <paramref name="options"/> is out of range, or a token id is outside the vocabulary.</exception>
    /// <exception cref="ArgumentException">The prompt is empty and the model has no bos token.</exception>
    /// <exception cref="PromptTooLongException">The prompt leaves no room in the context.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    /// <exception cref="GptException">The stages removed every token, or the model produced NaN scores.</exception>
    public async Task<NextTokenDistribution> GetNextTokenDistributionAsync(GptPrompt prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var settings = Resolve(options);
        var promptIds = PreparePrompt(prompt);
        var info = _model.Info;
        if (promptIds.Count >= info.ContextLength)
        {
            throw new PromptTooLongException(promptIds.Count, info.ContextLength);
        }

        await ThreadPoolSwitch.IfNeeded();
        cancellationToken.ThrowIfCancellationRequested();
        var sample = TokenSampler.Samples(settings);
        var sampler = new TokenSampler(TokenSampler.BuildStages(settings, promptIds.Count, info.EosTokenIds, sample), null);
        var logits = new float[info.VocabularySize];
        using (var decoder = new DecoderSession(_model, promptIds.Count + 1, cancellationToken))
        {
            decoder.Prefill(promptIds);
            decoder.Logits.AsSpan(0, logits.Length).CopyTo(logits);
        }

        sampler.Process(logits, [.. promptIds]);
        return new NextTokenDistribution(promptIds, logits, sample, sampler.Stages, _model.Tokenizer);
    }

    private TokenLogprob[] TopLogprobs(float[] finalLogits, int count, int[]? ids, double logSumExp)
    {
        if (count == 0 || ids is null)
        {
            return [];
        }

        var n = TokenSampler.Top(finalLogits, ids);
        var top = new TokenLogprob[n];
        for (var i = 0; i < n; i++)
        {
            var id = ids[i];
            top[i] = new TokenLogprob(id, NextTokenDistribution.Decode(_model.Tokenizer, id), (float)(finalLogits[id] - logSumExp));
        }

        return top;
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
        var settings = (request ?? new GenerationOptions()).WithDefaults(_model.Options.Generation).WithDefaults(modelDefaults);
        CheckVocabulary(settings);
        return settings;
    }

    /// <summary>Token ids in the settings must be in the model's vocabulary.</summary>
    private void CheckVocabulary(GenerationOptions settings)
    {
        var vocabulary = _model.Info.VocabularySize;
        string setting;
        if (settings.LogitBias is { } bias)
        {
            foreach (var id in bias.Keys)
            {
                if (id >= vocabulary)
                {
                    setting = nameof(GenerationOptions.LogitBias);
                    throw new ArgumentOutOfRangeException(setting, id, $"LogitBias token id {id} is outside the model's vocabulary (0..{vocabulary - 1}).");
                }
            }
        }

        if (settings.BannedTokenSequences is { } banned)
        {
            foreach (var sequence in banned)
            {
                foreach (var id in sequence)
                {
                    if (id >= vocabulary)
                    {
                        setting = nameof(GenerationOptions.BannedTokenSequences);
                        throw new ArgumentOutOfRangeException(setting, id, $"BannedTokenSequences token id {id} is outside the model's vocabulary (0..{vocabulary - 1}).");
                    }
                }
            }
        }
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
