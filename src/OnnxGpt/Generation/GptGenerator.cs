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
        var maxNew = MaxNewTokens(settings, promptIds.Count);
        var started = Stopwatch.GetTimestamp();

        // A caller with a synchronization context (a UI) must not run the model on its thread.
        await ThreadPoolSwitch.IfNeeded();

        var state = new SequenceState(_model, settings, promptIds, maxNew, started);
        var conversation = settings.ConversationId;
        DecoderSession decoder;
        try
        {
            decoder = ResumeConversation(conversation, promptIds, maxNew, state, cancellationToken)
                ?? new DecoderSession(_model, Capacity(conversation, promptIds.Count + maxNew), cancellationToken);
        }
        catch
        {
            // No cache, no loop: the request ends here.
            state.Exited(cancellationToken);
            throw;
        }
        var keep = false;
        try
        {
            ThrowIfCancelled(state, cancellationToken);
            try
            {
                if (state.ReusedPromptTokens > 0)
                {
                    decoder.PrefillFrom(promptIds, state.ReusedPromptTokens);
                }
                else
                {
                    decoder.Prefill(promptIds);
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw new GenerationCanceledException(state.BuildResult(FinishReason.Cancelled), cancellationToken);
            }

            while (true)
            {
                ThrowIfCancelled(state, cancellationToken);
                var token = state.Advance(decoder.Logits);
                if (token.Result is { } result)
                {
                    LogFinished(result);
                    keep = conversation is not null;
                    yield return token;
                    yield break;
                }

                yield return token;
                await ThreadPoolSwitch.IfNeeded();
                ThrowIfCancelled(state, cancellationToken);
                try
                {
                    decoder.Step(token.Id);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new GenerationCanceledException(state.BuildResult(FinishReason.Cancelled), cancellationToken);
                }
            }
        }
        finally
        {
            state.Exited(cancellationToken);

            // A finished turn keeps its cache for the conversation's next one; anything else gives it back.
            if (keep)
            {
                _model.Conversations.Put(conversation!, decoder);
            }
            else
            {
                decoder.Dispose();
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

        var started = Stopwatch.GetTimestamp();
        var prepared = new (GenerationOptions Settings, IReadOnlyList<int> Ids)[prompts.Count];
        for (var r = 0; r < prepared.Length; r++)
        {
            var settings = Resolve(options is null ? null : options[options.Count == 1 ? 0 : r]);
            var promptIds = PreparePrompt(prompts[r] ?? throw new ArgumentException($"Prompt {r} is null.", nameof(prompts)));

            prepared[r] = (settings, promptIds);
        }

        // Left padding puts every row at the longest prompt's length, so that is where the context's room starts.
        var longest = prepared.Max(p => p.Ids.Count);
        var room = _model.Info.ContextLength - longest;
        var rows = prepared.Select(p => new SequenceState(_model, p.Settings, p.Ids, Math.Min(MaxNewTokens(p.Settings, p.Ids.Count), room), started)).ToArray();
        try
        {
            await ThreadPoolSwitch.IfNeeded();
            var capacity = longest + rows.Max(r => r.MaxNewTokens);
            var pad = _model.Info.PadTokenId ?? (_model.Info.EosTokenIds.Count > 0 ? _model.Info.EosTokenIds[0] : 0);
            var vocabulary = _model.Info.VocabularySize;
            var next = new int[rows.Length];
            using var decoder = new DecoderSession(_model, capacity, cancellationToken, rows.Length);
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                decoder.PrefillBatch([.. rows.Select(r => r.PromptIds)], pad);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw new GenerationCanceledException(rows[0].BuildResult(FinishReason.Cancelled), cancellationToken);
            }

            while (true)
            {
                var running = 0;
                for (var r = 0; r < rows.Length; r++)
                {
                    var row = rows[r];
                    if (row.Finished)
                    {
                        // Finished rows keep feeding padding, as Hugging Face does; their scores are ignored.
                        next[r] = pad;
                        continue;
                    }

                    ThrowIfCancelled(row, cancellationToken);
                    var token = row.Advance(decoder.Logits.AsSpan(r * vocabulary, vocabulary));
                    next[r] = token.Id;
                    if (token.Result is { } result)
                    {
                        LogFinished(result);
                    }
                    else
                    {
                        running++;
                    }

                    yield return new BatchToken(r, token);
                }

                if (running == 0)
                {
                    yield break;
                }

                await ThreadPoolSwitch.IfNeeded();
                try
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    decoder.StepBatch(next);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new GenerationCanceledException(rows.First(r => !r.Finished).BuildResult(FinishReason.Cancelled), cancellationToken);
                }
            }
        }
        finally
        {
            // Rows the loop leaves without a result (cancelled with the batch, or the caller stopped reading).
            foreach (var row in rows)
            {
                row.Exited(cancellationToken);
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
        var logits = new float[info.VocabularySize];
        using (var decoder = new DecoderSession(_model, promptIds.Count + 1, cancellationToken))
        {
            decoder.Prefill(promptIds);
            decoder.Logits.AsSpan(0, logits.Length).CopyTo(logits);
        }

        sampler.Process(logits, [.. promptIds]);
        return new NextTokenDistribution(promptIds, logits, sample, sampler.Stages, _model.Tokenizer);
    }

    /// <summary>
    /// Continues a kept conversation when the prompt starts with tokens its cache holds: the cache is cut back to the
    /// shared prefix (at least one prompt token is always run, for the next token's scores). Null: start afresh.
    /// </summary>
    private DecoderSession? ResumeConversation(string? conversation, IReadOnlyList<int> promptIds, int maxNew, SequenceState state, CancellationToken cancellationToken)
    {
        if (conversation is null || _model.Conversations.Take(conversation) is not { } kept)
        {
            return null;
        }

        var processed = kept.ProcessedIds;
        var shared = 0;
        var limit = Math.Min(processed.Length, promptIds.Count - 1);
        while (shared < limit && processed[shared] == promptIds[shared])
        {
            shared++;
        }

        if (shared > 0 && kept.Capacity >= promptIds.Count + maxNew && kept.TryRewind(shared))
        {
            kept.Attach(cancellationToken);
            state.ReusedPromptTokens = shared;
            return kept;
        }

        kept.Dispose();
        return null;
    }

    /// <summary>A conversation's cache is sized for the whole context, so that its later turns fit.</summary>
    private int Capacity(string? conversation, int needed) =>
        conversation is null || _model.Info.ContextLength == int.MaxValue ? needed : Math.Max(needed, _model.Info.ContextLength);

    private static void ThrowIfCancelled(SequenceState state, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            throw new GenerationCanceledException(state.BuildResult(FinishReason.Cancelled), cancellationToken);
        }
    }

    private void LogFinished(GenerationResult result)
    {
        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.GenerationFinished(_logger, result.FinishReason.ToString(), result.PromptTokenCount, result.GeneratedTokenCount, result.TokensPerSecond);
        }
    }

    private GenerationOptions Resolve(GenerationOptions? request)
    {
        request?.Validate();
        var settings = (request ?? new GenerationOptions()).WithDefaults(_model.Options.Generation).WithDefaults(_model.Info.Defaults.ToOptions());
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

    private int MaxNewTokens(GenerationOptions settings, int promptLength) => GenerationDefaults.MaxNewTokensFor(_model.Info, settings, promptLength);

    /// <summary>The prompt's ids, checked against the vocabulary and the context (one position must stay free).</summary>
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

        return ids.Count < _model.Info.ContextLength ? ids : throw new PromptTooLongException(ids.Count, _model.Info.ContextLength);
    }
}
