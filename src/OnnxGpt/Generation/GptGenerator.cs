using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
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
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType.IsInstanceOfType(this) ? this
            : serviceType.IsInstanceOfType(_model) ? _model
            : serviceType == typeof(GptOptions) ? _model.Options
            : null;
    }

    /// <summary>
    /// How often, at most, a lone row running on its caller's pool thread lets queued pool work run first (the arrival
    /// of a second request that would join its batch): a few steps of a small graph, one step of a large one.
    /// </summary>
    private const long LoneRowYieldIntervalMs = 2;

    /// <inheritdoc />
    public async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var row = CreateRow(prompt, options, cancellationToken);

        // A caller with a synchronization context (a UI) must not run the model on its thread.
        await ThreadPoolSwitch.IfNeeded();
        if (!_model.Runtime.Batches)
        {
            // Alone: the request drives its own engine on its own thread.
            using var engine = new GenerationEngine(_model, 1);
            await foreach (var token in engine.RunAloneAsync(row).ConfigureAwait(false))
            {
                LogIfFinished(token);
                yield return token;
            }

            yield break;
        }

        var scheduler = _model.Runtime.Scheduler;
        bool alone;
        try
        {
            alone = scheduler.Submit(row);
        }
        catch
        {
            row.State.Exited(cancellationToken);
            throw;
        }

        // The engine may run ahead of a slow reader; on cancellation the reader throws with what it was given.
        var delivered = 0;
        var deliveredChars = 0;
        var lastYield = Environment.TickCount64;
        try
        {
            // The model's only request runs on this thread, as without batching, until a second request arrives:
            // then the scheduler's thread runs both, and this reader waits for its tokens.
            while (true)
            {
                while (row.Tokens.TryRead(out var token))
                {
                    if (ReferenceEquals(token, GenerationRow.HandBack))
                    {
                        // The batch shrank back to this row: it runs on this thread again.
                        alone = true;
                        continue;
                    }

                    if (cancellationToken.IsCancellationRequested)
                    {
                        await ThrowCancelledAsync(scheduler, row, delivered, deliveredChars, cancellationToken).ConfigureAwait(false);
                    }

                    delivered++;
                    deliveredChars += token.Text.Length;
                    LogIfFinished(token);
                    yield return token;
                    if (alone)
                    {
                        await ThreadPoolSwitch.IfNeeded();
                    }
                }

                if (!alone)
                {
                    if (!await row.Tokens.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                if (row.Tokens.Completion.IsCompleted)
                {
                    break;
                }

                if (delivered > 0 && Environment.TickCount64 - lastYield >= LoneRowYieldIntervalMs
                    && Thread.CurrentThread.IsThreadPoolThread && ThreadPool.PendingWorkItemCount > 0)
                {
                    // A lone row holds its caller's pool thread between tokens: work queued behind it (the arrival of
                    // the next request, on a machine with few pool threads) runs first. Not before the first token,
                    // whose time the hop would add to, and at most once an interval: on a small graph a hop per
                    // token (a pool thread to be scheduled beside ONNX Runtime's spinning one) costs more than a step.
                    await Task.Yield();
                    lastYield = Environment.TickCount64;
                }

                alone = scheduler.DriveAlone(row);
            }

            if (row.Failure is GenerationCanceledException)
            {
                await ThrowCancelledAsync(scheduler, row, delivered, deliveredChars, cancellationToken).ConfigureAwait(false);
            }

            ThrowIfFailed(row);
        }
        finally
        {
            // A reader that stops early (a disconnected client) frees its row at the next step (at once when it ran alone).
            if (!row.Tokens.Completion.IsCompleted)
            {
                scheduler.Leave(row);
            }
        }
    }

    /// <summary>
    /// Generates several prompts together, one session run per step for all of them (left-padded, with the
    /// attention mask and positions derived from the padding, as Hugging Face does). Each row streams its own
    /// tokens and ends on its own; its greedy output equals what <see cref="StreamAsync"/> gives for that prompt alone.
    /// </summary>
    /// <param name="prompts">The prompts, one per row.</param>
    /// <param name="options">Settings for every row, or one entry per row (null entries use the defaults).</param>
    /// <param name="cancellationToken">Stops every row within one step, throwing <see cref="GenerationCanceledException"/>.</param>
    /// <returns>Each row's tokens as they are produced, tagged with the row.</returns>
    /// <exception cref="ArgumentException">No prompts, or <paramref name="options"/> has a different count than <paramref name="prompts"/>.</exception>
    /// <exception cref="NotSupportedException">The model has no KV cache.</exception>
    public async IAsyncEnumerable<BatchToken> StreamBatchAsync(IReadOnlyList<GptPrompt> prompts, IReadOnlyList<GenerationOptions?>? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        if (prompts.Count == 0)
        {
            throw new ArgumentException("Give at least one prompt.", nameof(prompts));
        }

        if (options is not null && options.Count != 1 && options.Count != prompts.Count)
        {
            throw new ArgumentException($"Give one GenerationOptions for all rows or one per row ({prompts.Count}), not {options.Count}.", nameof(options));
        }

        if (prompts.Count > 1 && _model.Layout.Convention == KvCacheConvention.None)
        {
            throw new NotSupportedException($"'{_model.Info.ModelPath}' has no KV cache; batched generation needs a graph with one. Generate the prompts one at a time.");
        }

        var rows = new GenerationRow[prompts.Count];
        for (var r = 0; r < rows.Length; r++)
        {
            rows[r] = CreateRow(prompts[r] ?? throw new ArgumentException($"Prompt {r} is null.", nameof(prompts)), options is null ? null : options[options.Count == 1 ? 0 : r], cancellationToken);
        }

        await ThreadPoolSwitch.IfNeeded();
        using var engine = new GenerationEngine(_model, rows.Length);
        foreach (var row in rows)
        {
            engine.Add(row);
        }

        var open = rows.Length;
        while (open > 0)
        {
            engine.Iterate();
            open = 0;
            for (var r = 0; r < rows.Length; r++)
            {
                var row = rows[r];
                while (row.Tokens.TryRead(out var token))
                {
                    LogIfFinished(token);
                    yield return new BatchToken(r, token);
                }

                if (!row.Tokens.Completion.IsCompleted)
                {
                    open++;
                }
                else if (row.Failure is not null)
                {
                    // One row's failure (or the shared token's cancellation) ends the batch.
                    engine.Dispose();
                    ThrowIfFailed(row);
                }
            }
        }
    }

    /// <summary>Generates several prompts together and returns each row's result (see <see cref="StreamBatchAsync"/>).</summary>
    /// <param name="prompts">The prompts, one per row.</param>
    /// <param name="options">Settings for every row, or one entry per row.</param>
    /// <param name="cancellationToken">Stops every row.</param>
    /// <returns>The results, in the order of <paramref name="prompts"/>.</returns>
    public async Task<IReadOnlyList<GenerationResult>> GenerateBatchAsync(IReadOnlyList<GptPrompt> prompts, IReadOnlyList<GenerationOptions?>? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        var results = new GenerationResult[prompts.Count];
        await foreach (var token in StreamBatchAsync(prompts, options, cancellationToken).ConfigureAwait(false))
        {
            if (token.Token.Result is { } result)
            {
                results[token.Row] = result;
            }
        }

        return results;
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

        await ThreadPoolSwitch.IfNeeded();
        cancellationToken.ThrowIfCancellationRequested();
        var sample = TokenSampler.Samples(settings);
        var sampler = new TokenSampler(TokenSampler.BuildStages(settings, promptIds.Count, info.EosTokenIds, sample), null);
        var row = new GenerationRow(new SequenceState(_model, settings, promptIds, 1, Stopwatch.GetTimestamp()), null, cancellationToken, distributionOnly: true);
        using (var engine = new GenerationEngine(_model, 1))
        {
            engine.Add(row);
            engine.Iterate();
        }

        if (row.Failure is GenerationCanceledException)
        {
            cancellationToken.ThrowIfCancellationRequested();
        }

        ThrowIfFailed(row);
        var logits = row.DistributionLogits!;
        sampler.Process(logits, [.. promptIds]);
        return new NextTokenDistribution(promptIds, logits, sample, sampler.Stages, _model.Tokenizer);
    }

    /// <summary>Resolves and checks a request, before any work: the row the engine runs.</summary>
    private GenerationRow CreateRow(GptPrompt prompt, GenerationOptions? options, CancellationToken cancellationToken)
    {
        var settings = Resolve(options);
        var promptIds = PreparePrompt(prompt);
        var maxNew = MaxNewTokens(settings, promptIds.Count);
        var conversation = _model.Runtime.Conversations.Capacity > 0 ? settings.ConversationId : null;
        return new GenerationRow(new SequenceState(_model, settings, promptIds, maxNew, Stopwatch.GetTimestamp()), conversation, cancellationToken)
        {
            Speculation = Speculation.SpeculativeDecoder.Create(_model, settings, promptIds.Count + maxNew),
        };
    }

    /// <summary>
    /// Waits for the engine to drop the cancelled row (within one step; its cache is then back in the pool) and
    /// throws with the tokens the reader was given.
    /// </summary>
    private static async Task ThrowCancelledAsync(GenerationScheduler scheduler, GenerationRow row, int delivered, int deliveredChars, CancellationToken cancellationToken)
    {
        scheduler.Leave(row);
        while (await row.Tokens.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (row.Tokens.TryRead(out _))
            {
            }
        }

        throw new GenerationCanceledException(row.State.BuildResult(FinishReason.Cancelled, delivered, deliveredChars), cancellationToken);
    }

    private static void ThrowIfFailed(GenerationRow row)
    {
        if (row.Failure is { } failure)
        {
            ExceptionDispatchInfo.Capture(failure).Throw();
        }
    }

    private void LogIfFinished(GeneratedToken token)
    {
        if (token.Result is { } result)
        {
            LogFinished(result);
        }
    }

    private void LogFinished(GenerationResult result)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.GenerationFinished(_logger, result.FinishReason.ToString(), result.PromptTokenCount, result.GeneratedTokenCount, result.TokensPerSecond);
        }
    }

    private GenerationOptions Resolve(GenerationOptions? request) =>
        GenerationRequests.Resolve(request, _model.Options.Generation, _model.Info.Defaults.ToOptions(), _model.Info.VocabularySize);

    private int MaxNewTokens(GenerationOptions settings, int promptLength) => GenerationDefaults.MaxNewTokensFor(_model.Info, settings, promptLength);

    /// <summary>The prompt's ids, checked against the vocabulary and the context (one position must stay free).</summary>
    private IReadOnlyList<int> PreparePrompt(GptPrompt prompt) =>
        GenerationRequests.PreparePrompt(prompt, _model.Info, (text, special) => _model.RequireTokenizer().Encode(text, special));
}
