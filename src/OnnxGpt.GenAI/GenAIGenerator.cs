using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;
using OnnxGpt.Models;
using OnnxGpt.Providers;
using OnnxGpt.Telemetry;
using OnnxGpt.Tokenization;

namespace OnnxGpt.GenAI;

/// <summary>
/// Generates text with onnxruntime-genai (Microsoft.ML.OnnxRuntimeGenAI) behind OnnxGpt's <see cref="IGptGenerator"/>:
/// the same prompts, streaming, stop sequences, cancellation and <see cref="GenerationResult"/> as
/// <see cref="GptGenerator"/>, for model folders published for onnxruntime-genai (with <c>genai_config.json</c>).
/// Text is tokenized and decoded by OnnxGpt's tokenizer when the folder has one it reads (so ids equal the core
/// backend's), else by onnxruntime-genai's (<c>tokenizer.json</c>).
/// Safe to call from several threads at once: each request has its own onnxruntime-genai generator. The generator owns
/// the onnxruntime-genai model: dispose it to release the native memory (requests still running finish their current
/// token and then end with <see cref="ObjectDisposedException"/>).
/// </summary>
/// <remarks>
/// Sampling settings map onto onnxruntime-genai's search options (<c>do_sample</c>, <c>temperature</c>, <c>top_k</c>,
/// <c>top_p</c>, <c>repetition_penalty</c>, <c>random_seed</c>, <c>max_length</c>); greedy output equals the core
/// backend's, sampled output follows onnxruntime-genai's own random generator, so the same seed gives different text
/// on the two backends. Settings onnxruntime-genai has no equivalent for (min-p) throw <see cref="ArgumentException"/>
/// naming the setting. <see cref="ModelInfo"/> is read from the folder's configuration files and the graph's input
/// declarations; no ONNX Runtime session of the weights is created besides onnxruntime-genai's own.
/// <para>
/// Conversations (<see cref="GenerationOptions.ConversationId"/>): a finished request keeps its onnxruntime-genai
/// <c>Generator</c> (its KV cache) and the token ids it holds, and the conversation's next request rewinds it
/// (<c>Generator.RewindTo</c>) to the longest prefix its prompt shares with them and appends only the rest;
/// <see cref="GenerationResult.ReusedPromptTokenCount"/> says how many prompt tokens were reused. At least one prompt
/// token is always appended, and the rewind stops at least one token short of the kept cache's length
/// (onnxruntime-genai refuses to rewind a cache to its own length), so a prompt that repeats a whole earlier turn reuses
/// all of it but its last two tokens. <see cref="GptOptions.MaxKeptConversations"/> bounds the kept generators (least
/// recently used disposed first); a request takes its conversation's generator out while it runs, so a concurrent
/// request with the same id starts afresh; a request that fails or is cancelled disposes its generator, and the
/// conversation keeps nothing until its next finished turn. Disposing this generator disposes every kept one.
/// </para>
/// <para>
/// Search options are fixed when onnxruntime-genai creates a generator, so a conversation's generator is created with
/// <c>max_length</c> set to the model's whole context length (the request's own loop stops at its
/// <see cref="GenerationOptions.MaxNewTokens"/>, so the output is the same): later, longer turns then fit. On models
/// whose KV cache is one preallocated buffer (<c>past_present_share_buffer</c>), each kept conversation therefore holds
/// a cache of the whole context; lower <see cref="GptOptions.MaxKeptConversations"/> (0 keeps none) where that is too
/// much. A kept generator serves the next turn only when every other search option (sampling, temperature, top-k,
/// top-p, repetition penalty, n-gram size) and the adapter are the same; else that turn starts afresh and replaces it.
/// Requests that sample with a <see cref="GenerationOptions.Seed"/> (onnxruntime-genai seeds a generator only when it
/// is created, and the same seed must give the same output), set <see cref="GenerationOptions.MinNewTokens"/> (its
/// <c>min_length</c> counts the prompt) or a constraint (<see cref="GenAIRequestOptions"/>) neither use nor keep a
/// conversation's generator. Where onnxruntime-genai cannot rewind the model's generators (some model types), the
/// failure is logged once and conversations run their whole prompt from then on.
/// </para>
/// </remarks>
public sealed class GenAIGenerator : IGptGenerator, IDisposable
{
    private readonly Lock _gate = new();
    private readonly Config _config;
    private readonly Model _model;
    private readonly Adapters? _adapters;
    private readonly ITextCodec? _codec;
    private readonly GenAIOptions _genAIOptions;
    private readonly ILogger _logger;
    private readonly ConversationStore<GenAISequence> _conversations;
    private int _active;
    private bool _disposed;
    private volatile int _rewindUnsupported;

    private GenAIGenerator(Config config, Model model, Adapters? adapters, ITextCodec? codec, GenAIModelFolder folder, string provider, GptOptions options, GenAIOptions genAIOptions, ILogger logger)
    {
        _config = config;
        _model = model;
        _adapters = adapters;
        _codec = codec;
        ModelInfo = folder.Info;
        Tokenizer = folder.Tokenizer;
        ExecutionProvider = provider;
        Options = options;
        _genAIOptions = genAIOptions;
        _logger = logger;
        AdapterNames = [.. genAIOptions.Adapters.Select(a => a.Name)];
        _conversations = new ConversationStore<GenAISequence>(options.MaxKeptConversations);
    }

    /// <inheritdoc />
    public GptModelInfo ModelInfo { get; }

    /// <summary>The execution provider that serves the model (<c>Cpu</c>, <c>Cuda</c> or <c>DirectML</c>).</summary>
    public string ExecutionProvider { get; }

    /// <summary>The options the model was loaded with (their <see cref="GptOptions.Generation"/> defaults apply to every request).</summary>
    public GptOptions Options { get; }

    /// <summary>OnnxGpt's tokenizer for the model, or null when the folder has none it reads (onnxruntime-genai's then serves text prompts).</summary>
    public GptTokenizer? Tokenizer { get; }

    /// <summary>The names of the LoRA adapters loaded with the model (<see cref="GenAIOptions.Adapters"/>).</summary>
    public IReadOnlyList<string> AdapterNames { get; }

    /// <summary>Conversations whose generator is kept now (<see cref="GenerationOptions.ConversationId"/>).</summary>
    internal int KeptConversationCount => _conversations.Count;

    /// <summary>Loads the model <paramref name="options"/> names with onnxruntime-genai, on the first of its execution providers that works.</summary>
    /// <param name="options">The model folder (with <c>genai_config.json</c>), execution providers, threads and generation defaults.</param>
    /// <param name="loggerFactory">Where to log what was loaded and any fallback; null logs nothing.</param>
    /// <returns>The generator, which owns the model: dispose it.</returns>
    /// <exception cref="ArgumentException">The options are invalid, or <see cref="GptOptions.Generation"/> sets a setting onnxruntime-genai lacks; the message names it.</exception>
    /// <exception cref="ModelLoadException">The folder is missing, has no <c>genai_config.json</c>, or onnxruntime-genai cannot load it.</exception>
    /// <exception cref="ExecutionProviderException">No listed execution provider could run the model.</exception>
    /// <exception cref="GptException">onnxruntime-genai's native library cannot be loaded (no natives package referenced).</exception>
    public static GenAIGenerator Create(GptOptions options, ILoggerFactory? loggerFactory = null) =>
        Create(options, new GenAIOptions(), loggerFactory);

    /// <summary>Loads the model with onnxruntime-genai, with backend-specific settings (LoRA adapters, configuration overlay).</summary>
    /// <param name="options">The model folder (with <c>genai_config.json</c>), execution providers, threads and generation defaults.</param>
    /// <param name="genAIOptions">LoRA adapters and a <c>genai_config.json</c> overlay.</param>
    /// <param name="loggerFactory">Where to log what was loaded and any fallback; null logs nothing.</param>
    /// <returns>The generator, which owns the model: dispose it.</returns>
    /// <exception cref="ArgumentException">The options are invalid, or <see cref="GptOptions.Generation"/> sets a setting onnxruntime-genai lacks; the message names it.</exception>
    /// <exception cref="ModelLoadException">The folder is missing, has no <c>genai_config.json</c>, or onnxruntime-genai cannot load it or an adapter.</exception>
    /// <exception cref="ExecutionProviderException">No listed execution provider could run the model.</exception>
    /// <exception cref="GptException">onnxruntime-genai's native library cannot be loaded (no natives package referenced).</exception>
    public static GenAIGenerator Create(GptOptions options, GenAIOptions genAIOptions, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(genAIOptions);
        var validation = new GptOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new ArgumentException(validation.FailureMessage, nameof(options));
        }

        GenAISearchOptions.ThrowIfUnsupported(options.Generation, "GptOptions.Generation");
        if (options.DraftModelPath is not null)
        {
            throw new ArgumentException("GptOptions.DraftModelPath is set, but the GenAI backend has no speculative decoding with a draft model. Leave DraftModelPath unset, or use the OnnxGpt backend (GptOptions.Backend = OnnxGpt).", nameof(options));
        }

        ValidateAdapters(genAIOptions);

        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<GenAIGenerator>();
        var modelPath = options.ModelPath!;
        var folder = GenAIModelFolder.Read(modelPath, options.Variant);
        foreach (var (setting, value) in GenAISearchOptions.Unsupported(folder.Info.Defaults))
        {
            Log.ModelDefaultIgnored(logger, modelPath, setting, value);
        }

        var config = CreateConfig(folder, modelPath, options, genAIOptions);
        Model? model = null;
        Adapters? adapters = null;
        ITextCodec? codec = null;
        try
        {
            string provider;
            (model, provider) = LoadModel(config, modelPath, options, logger);
            adapters = LoadAdapters(model, folder.Directory, modelPath, genAIOptions);
            if (folder.Tokenizer is { } tokenizer)
            {
                codec = new OnnxGptTextCodec(tokenizer);
            }
            else if (folder.HasTokenizerJson)
            {
                Log.UsingGenAITokenizer(logger, modelPath);
                codec = new GenAITextCodec(new Tokenizer(model));
            }

            if (logger.IsEnabled(LogLevel.Information))
            {
                Log.ModelLoaded(logger, modelPath, folder.ModelType, folder.Info.ContextLength, folder.Info.VocabularySize, provider);
            }

            return new GenAIGenerator(config, model, adapters, codec, folder, provider, options, genAIOptions, logger);
        }
        catch (OnnxRuntimeGenAIException ex)
        {
            codec?.Dispose();
            adapters?.Dispose();
            model?.Dispose();
            config.Dispose();
            throw new ModelLoadException(modelPath, $"onnxruntime-genai cannot use the model's files ({ex.Message.Trim()}).", ex);
        }
        catch
        {
            codec?.Dispose();
            adapters?.Dispose();
            model?.Dispose();
            config.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(prompt, options, null, cancellationToken);

    /// <summary>
    /// Streams generated tokens, with onnxruntime-genai's own per-request features: a LoRA adapter and constrained
    /// decoding (JSON schema, regular expression or Lark grammar). The final token carries <see cref="GeneratedToken.Result"/>.
    /// </summary>
    /// <param name="prompt">The prompt: text (a string converts implicitly) or token ids.</param>
    /// <param name="options">Per-request settings; null uses the defaults. With <see cref="GenerationOptions.ConversationId"/>, the request continues that conversation's kept generator (see the class remarks).</param>
    /// <param name="genAIOptions">onnxruntime-genai's per-request settings; null: none (the default adapter, no constraint).</param>
    /// <param name="cancellationToken">Stops the generation within one token, throwing <see cref="GenerationCanceledException"/>; the conversation's generator is then dropped.</param>
    /// <returns>The tokens, in order.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A setting in <paramref name="options"/> is out of range, or a prompt token id is outside the vocabulary.</exception>
    /// <exception cref="ArgumentException">A setting onnxruntime-genai lacks is set (the message names it), the adapter is unknown, more than one constraint is set, or the prompt is empty and the model has no bos token.</exception>
    /// <exception cref="PromptTooLongException">The prompt leaves no room in the context.</exception>
    /// <exception cref="GenerationCanceledException">The token was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The generator was disposed.</exception>
    public async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options, GenAIRequestOptions? genAIOptions, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var settings = Resolve(options);
        var guidance = Guidance(settings, genAIOptions);
        var adapter = genAIOptions?.Adapter ?? _genAIOptions.DefaultAdapter;
        if (adapter is not null && !AdapterNames.Contains(adapter, StringComparer.Ordinal))
        {
            throw new ArgumentException($"GenAIRequestOptions.Adapter '{adapter}' is not loaded; the model has {(AdapterNames.Count == 0 ? "no adapters (add them to GenAIOptions.Adapters)" : string.Join(", ", AdapterNames))}.", nameof(genAIOptions));
        }

        var promptIds = PreparePrompt(prompt);
        var info = ModelInfo;
        if (promptIds.Length >= info.ContextLength)
        {
            throw new PromptTooLongException(promptIds.Length, info.ContextLength);
        }

        var maxNew = MaxNewTokens(settings, promptIds.Length);
        var needed = promptIds.Length + maxNew;

        // A conversation's generator is made for the whole context, so that its later, longer turns fit (see the remarks).
        var conversation = ConversationFor(settings, guidance);
        var search = GenAISearchSettings.From(settings, promptIds.Length, conversation is null || info.ContextLength == int.MaxValue ? needed : Math.Max(needed, info.ContextLength));
        if (conversation is not null && !search.IsResumable)
        {
            conversation = null;
            search = search with { MaxLength = needed };
        }

        var started = Stopwatch.GetTimestamp();
        var firstTokenAt = 0L;
        var reused = 0;

        // A caller with a synchronization context (a UI) must not run the model on its thread.
        await ThreadPoolSwitch.IfNeeded();

        var generated = new List<int>(Math.Min(maxNew, 1024));
        var text = new StringBuilder();
        var stops = new StopSequenceMatcher(settings.StopSequences);
        var eos = info.EosTokenIds;

        RequestTelemetry? telemetry = null;
        GenerationResult BuildResult(FinishReason reason)
        {
            var now = Stopwatch.GetTimestamp();
            var timeToFirstToken = firstTokenAt == 0 ? Stopwatch.GetElapsedTime(started, now) : Stopwatch.GetElapsedTime(started, firstTokenAt);
            var total = Stopwatch.GetElapsedTime(started, now);

            // The one place this backend finalizes a request, as SequenceState does for OnnxGpt's.
            telemetry?.Finished(SequenceState.FinishReasonName(reason), promptIds.Length, generated.Count, timeToFirstToken, total);
            return new GenerationResult
            {
                Text = text.ToString(),
                PromptTokenIds = promptIds,
                TokenIds = generated.ToArray(),
                FinishReason = reason,
                ExecutionProvider = ExecutionProvider,
                TimeToFirstToken = timeToFirstToken,
                TotalTime = total,
                ReusedPromptTokenCount = reused,
            };
        }

        void ThrowIfCancelled()
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw new GenerationCanceledException(BuildResult(FinishReason.Cancelled), cancellationToken);
            }
        }

        telemetry = RequestTelemetry.Start(info.ModelPath, maxNew, settings.Temperature, settings.TopP, settings.TopK, settings.ConversationId);
        EnterRequest();
        GenAISequence? sequence = null;
        CancellationTokenRegistration stopRun = default;
        var keep = false;
        try
        {
            if (conversation is not null && ResumeConversation(conversation, promptIds, search, adapter) is { } resumed)
            {
                (sequence, reused) = resumed;
            }
            else
            {
                sequence = new GenAISequence(_model, search, guidance, _adapters, adapter);
            }

            var generator = sequence.Generator;
            using var textStream = _codec?.CreateStream();

            // Cancellation also stops a model run in progress (a long prompt), through onnxruntime-genai's terminate_session.
            stopRun = cancellationToken.Register(static state => ((Generator)state!).SetRuntimeOption("terminate_session", "1"), generator);

            ThrowIfCancelled();
            var appended = reused == 0 ? promptIds : promptIds[reused..];
            Run(() => generator.AppendTokens(appended), BuildResult, cancellationToken);
            for (var index = 0; ; index++)
            {
                ThrowIfCancelled();
                Run(generator.GenerateNextToken, BuildResult, cancellationToken);
                var token = generator.GetNextTokens()[0];
                if (firstTokenAt == 0)
                {
                    firstTokenAt = Stopwatch.GetTimestamp();
                    telemetry.Prefilled(promptIds.Length, reused);
                }

                generated.Add(token);

                FinishReason? finish = null;
                string released;
                if (eos.Contains(token))
                {
                    finish = FinishReason.Eos;
                    released = stops.Push(textStream?.Flush() ?? string.Empty).Released + stops.Flush();
                }
                else
                {
                    var (fragment, stopped) = stops.Push(textStream?.Append(token) ?? string.Empty);
                    released = fragment;
                    if (stopped)
                    {
                        finish = FinishReason.Stop;
                    }
                    else if (generated.Count >= maxNew || generator.IsDone())
                    {
                        // onnxruntime-genai also ends a sequence on its own (a constraint completed, max_length reached).
                        finish = generated.Count >= maxNew ? FinishReason.Length : FinishReason.Eos;
                        released += stops.Push(textStream?.Flush() ?? string.Empty).Released + stops.Flush();
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

                    // A finished turn of a conversation keeps its generator for the next one.
                    keep = conversation is not null;
                    yield return new GeneratedToken(token, released, index, result);
                    yield break;
                }

                yield return new GeneratedToken(token, released, index);
                await ThreadPoolSwitch.IfNeeded();
            }
        }
        finally
        {
            // The registration's callback has run or never will once it is disposed. A generator that may have been
            // told to terminate, or whose request failed or was cancelled, is in no state to keep: it is disposed.
            stopRun.Dispose();
            if (cancellationToken.IsCancellationRequested)
            {
                BuildResult(FinishReason.Cancelled);   // a no-op for the telemetry once the request has its result
            }

            telemetry.Exited();
            if (sequence is not null)
            {
                if (keep && !cancellationToken.IsCancellationRequested)
                {
                    sequence.SequenceIds = [.. promptIds, .. generated];
                    _conversations.Put(conversation!, sequence);
                }
                else
                {
                    sequence.Dispose();
                }
            }

            ExitRequest();
        }
    }

    /// <summary>Generates the whole result at once, with onnxruntime-genai's per-request features.</summary>
    /// <param name="prompt">The prompt: text (a string converts implicitly) or token ids.</param>
    /// <param name="options">Per-request settings; null uses the defaults.</param>
    /// <param name="genAIOptions">onnxruntime-genai's per-request settings (adapter, constraint); null: none.</param>
    /// <param name="cancellationToken">Stops the generation, throwing <see cref="GenerationCanceledException"/>.</param>
    /// <returns>The text, ids, finish reason, usage and timings.</returns>
    public async Task<GenerationResult> GenerateAsync(GptPrompt prompt, GenerationOptions? options = null, GenAIRequestOptions? genAIOptions = null, CancellationToken cancellationToken = default)
    {
        GenerationResult? result = null;
        await foreach (var token in StreamAsync(prompt, options, genAIOptions, cancellationToken).ConfigureAwait(false))
        {
            result = token.Result ?? result;
        }

        return result!;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;

            // Kept generators are no request's: they go now, before the model (a request still running disposes its
            // own when it ends, before it releases the model).
            _conversations.Dispose();
            if (_active > 0)
            {
                // The last running request releases the model (see ExitRequest).
                return;
            }
        }

        ReleaseNative();
    }

    private void EnterRequest()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _active++;
        }
    }

    private void ExitRequest()
    {
        bool release;
        lock (_gate)
        {
            release = --_active == 0 && _disposed;
        }

        if (release)
        {
            ReleaseNative();
        }
    }

    private void ThrowIfDisposed()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
        }
    }

    private void ReleaseNative()
    {
        _codec?.Dispose();
        _adapters?.Dispose();
        _model.Dispose();
        _config.Dispose();
    }

    private void Run(Action run, Func<FinishReason, GenerationResult> partial, CancellationToken cancellationToken)
    {
        ThrowIfDisposed();
        try
        {
            run();
        }
        catch (OnnxRuntimeGenAIException) when (cancellationToken.IsCancellationRequested)
        {
            // terminate_session stopped the run.
            throw new GenerationCanceledException(partial(FinishReason.Cancelled), cancellationToken);
        }
    }

    /// <summary>
    /// The conversation whose generator the request uses and keeps, or null: none named, none kept
    /// (<see cref="GptOptions.MaxKeptConversations"/> 0), a constraint set (its state belongs to one request), or
    /// onnxruntime-genai cannot rewind this model's generators.
    /// </summary>
    private string? ConversationFor(GenerationOptions settings, (string Type, string Data)? guidance) =>
        settings.ConversationId is { } id && _conversations.Capacity > 0 && guidance is null && _rewindUnsupported == 0 ? id : null;

    /// <summary>
    /// Continues a kept conversation when the prompt starts with tokens its generator holds and it was created with
    /// compatible settings: the generator is rewound to the shared prefix (at least one prompt token is always left to
    /// append, and the rewind stays below the cache's length, which onnxruntime-genai refuses). Null: start afresh
    /// (the kept generator, if any, is disposed).
    /// </summary>
    private (GenAISequence Sequence, int Reused)? ResumeConversation(string conversation, int[] promptIds, GenAISearchSettings search, string? adapter)
    {
        if (_conversations.Take(conversation) is not { } kept)
        {
            return null;
        }

        var held = kept.SequenceIds;

        // The cache holds all of the sequence but its last token; rewinding must stay below that length.
        var limit = Math.Min(held.Length - 2, promptIds.Length - 1);
        var shared = 0;
        while (shared < limit && held[shared] == promptIds[shared])
        {
            shared++;
        }

        if (shared == 0 || !string.Equals(kept.Adapter, adapter, StringComparison.Ordinal) || !kept.Search.CanContinueWith(search))
        {
            kept.Dispose();
            return null;
        }

        try
        {
            kept.Generator.RewindTo((ulong)shared);
        }
        catch (OnnxRuntimeGenAIException ex)
        {
            kept.Dispose();
            if (Interlocked.Exchange(ref _rewindUnsupported, 1) == 0)
            {
                Log.RewindFailed(_logger, ModelInfo.ModelPath, ex.Message.Trim());
            }

            return null;
        }

        if (_logger.IsEnabled(LogLevel.Debug))
        {
            Log.ConversationResumed(_logger, shared, promptIds.Length);
        }

        return (kept, shared);
    }

    private GenerationOptions Resolve(GenerationOptions? request)
    {
        request?.Validate();
        GenAISearchOptions.ThrowIfUnsupported(request, nameof(GenerationOptions));
        // The model's own settings that onnxruntime-genai lacks (min-p) were logged at load and are left out.
        var modelDefaults = ModelInfo.Defaults.ToOptions();
        modelDefaults.MinP = null;
        return (request ?? new GenerationOptions()).WithDefaults(Options.Generation).WithDefaults(modelDefaults);
    }

    private int MaxNewTokens(GenerationOptions settings, int promptLength) => GenerationDefaults.MaxNewTokensFor(ModelInfo, settings, promptLength);

    private int[] PreparePrompt(GptPrompt prompt)
    {
        int[] ids = prompt.TokenIds is { } given ? [.. given]
            : _codec is { } codec ? [.. codec.Encode(prompt.Text!, prompt.AddSpecialTokens)]
            : throw new InvalidOperationException($"The model at '{ModelInfo.ModelPath}' has no tokenizer files (vocab.json + merges.txt, tokenizer.model or tokenizer.json); give the prompt as token ids instead.");
        if (ids.Length == 0)
        {
            ids = ModelInfo.BosTokenId is { } bos
                ? [bos]
                : throw new ArgumentException("The prompt is empty and the model has no bos token to start from; give at least one token.", nameof(prompt));
        }

        var vocabulary = ModelInfo.VocabularySize;
        foreach (var id in ids)
        {
            if ((uint)id >= (uint)vocabulary)
            {
                throw new ArgumentOutOfRangeException(nameof(prompt), id, $"Prompt token id {id} is outside the model's vocabulary (0..{vocabulary - 1}).");
            }
        }

        return ids;
    }

    private static void ValidateAdapters(GenAIOptions options)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var adapter in options.Adapters)
        {
            if (adapter is null || string.IsNullOrWhiteSpace(adapter.Name) || string.IsNullOrWhiteSpace(adapter.Path))
            {
                throw new ArgumentException("Each entry of GenAIOptions.Adapters needs a Name and a Path.", nameof(options));
            }

            if (!names.Add(adapter.Name))
            {
                throw new ArgumentException($"GenAIOptions.Adapters names '{adapter.Name}' more than once.", nameof(options));
            }
        }

        if (options.DefaultAdapter is { } defaultAdapter && !names.Contains(defaultAdapter))
        {
            throw new ArgumentException($"GenAIOptions.DefaultAdapter '{defaultAdapter}' is not one of GenAIOptions.Adapters.", nameof(options));
        }
    }

    private static Config CreateConfig(GenAIModelFolder folder, string modelPath, GptOptions options, GenAIOptions genAIOptions)
    {
        var directory = folder.Directory;
        Config config;
        try
        {
            config = new Config(directory);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException or TypeInitializationException or BadImageFormatException)
        {
            throw new GptException($"onnxruntime-genai's native library cannot be loaded ({ex.Message.Trim()}). Reference Microsoft.ML.OnnxRuntimeGenAI (CPU), Microsoft.ML.OnnxRuntimeGenAI.Cuda or Microsoft.ML.OnnxRuntimeGenAI.DirectML in the application.", ex);
        }
        catch (OnnxRuntimeGenAIException ex)
        {
            throw new ModelLoadException(modelPath, $"onnxruntime-genai cannot read genai_config.json ({ex.Message.Trim()}).", ex);
        }

        try
        {
            if (folder.VariantGraph is { } graph)
            {
                // GptOptions.Variant: the same folder, another graph.
                config.Overlay("{\"model\":{\"decoder\":{\"filename\":\"" + System.Text.Json.JsonEncodedText.Encode(graph) + "\"}}}");
            }

            if (options.IntraOpNumThreads is > 0)
            {
                config.Overlay("{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + options.IntraOpNumThreads.Value.ToString(CultureInfo.InvariantCulture) + "}}}}");
            }

            if (!string.IsNullOrWhiteSpace(genAIOptions.ConfigOverlay))
            {
                config.Overlay(genAIOptions.ConfigOverlay);
            }

            return config;
        }
        catch (OnnxRuntimeGenAIException ex)
        {
            config.Dispose();
            throw new ArgumentException($"GenAIOptions.ConfigOverlay or IntraOpNumThreads cannot be applied to genai_config.json ({ex.Message.Trim()}).", nameof(genAIOptions), ex);
        }
    }

    private static (Model Model, string Provider) LoadModel(Config config, string modelPath, GptOptions options, ILogger logger)
    {
        IReadOnlyList<ExecutionProviderOptions> list = options.ExecutionProviders.Count == 0 ? [new ExecutionProviderOptions(ExecutionProviderOptions.Cpu)] : [.. options.ExecutionProviders];
        var failures = new List<KeyValuePair<string, string>>();
        foreach (var provider in list)
        {
            var name = ExecutionProviderOptions.Normalize(provider.Name)
                ?? throw new ArgumentException($"Unknown execution provider '{provider.Name}'; use {ExecutionProviderOptions.Cuda}, {ExecutionProviderOptions.DirectML} or {ExecutionProviderOptions.Cpu}.", nameof(options));
            try
            {
                // genai_config.json may name a provider of its own (a folder published for CUDA): OnnxGpt's list decides.
                config.ClearProviders();
                switch (name)
                {
                    case ExecutionProviderOptions.Cuda:
                        config.AppendProvider("cuda");
                        foreach (var (key, value) in provider.CudaProviderOptions())
                        {
                            config.SetProviderOption("cuda", key, value);
                        }

                        break;
                    case ExecutionProviderOptions.DirectML:
                        config.AppendProvider("dml");
                        if (provider.DeviceId != 0)
                        {
                            config.SetDecoderProviderOptionsHardwareDeviceId("dml", (uint)provider.DeviceId);
                        }

                        break;
                    default:
                        // "Cpu": no provider appended; onnxruntime-genai then runs on ONNX Runtime's CPU provider.
                        ApplyCpuSessionOptions(config, provider);
                        break;
                }

                return (new Model(config), name);
            }
            catch (OnnxRuntimeGenAIException ex) when (name != ExecutionProviderOptions.Cpu)
            {
                var reason = ex.Message.Trim();
                Log.ProviderFailed(logger, provider.ToString(), modelPath, reason);
                failures.Add(new(provider.ToString(), reason));
                if (options.RequireExecutionProvider)
                {
                    throw new ExecutionProviderException(failures, required: true);
                }
            }
            catch (OnnxRuntimeGenAIException ex)
            {
                // On the CPU, a failure is the model's fault, not the provider's.
                throw new ModelLoadException(modelPath, $"onnxruntime-genai cannot load the model ({ex.Message.Trim()}). Check genai_config.json and that the graph it names is present.", ex);
            }
        }

        throw new ExecutionProviderException(failures);
    }

    /// <summary>The CPU entry's own session settings, as genai_config.json's decoder session_options.</summary>
    private static void ApplyCpuSessionOptions(Config config, ExecutionProviderOptions provider)
    {
        var settings = new List<string>();
        if (provider.IntraOpNumThreads is > 0)
        {
            settings.Add("\"intra_op_num_threads\":" + provider.IntraOpNumThreads.Value.ToString(CultureInfo.InvariantCulture));
        }

        if (provider.InterOpNumThreads is > 0)
        {
            settings.Add("\"inter_op_num_threads\":" + provider.InterOpNumThreads.Value.ToString(CultureInfo.InvariantCulture));
        }

        if (provider.EnableCpuMemArena is { } arena)
        {
            settings.Add("\"enable_cpu_mem_arena\":" + (arena ? "true" : "false"));
        }

        if (settings.Count > 0)
        {
            config.Overlay("{\"model\":{\"decoder\":{\"session_options\":{" + string.Join(",", settings) + "}}}}");
        }
    }

    private static Adapters? LoadAdapters(Model model, string directory, string modelPath, GenAIOptions options)
    {
        if (options.Adapters.Count == 0)
        {
            return null;
        }

        var adapters = new Adapters(model);
        try
        {
            foreach (var adapter in options.Adapters)
            {
                var path = Path.GetFullPath(adapter.Path, directory);
                try
                {
                    adapters.LoadAdapter(path, adapter.Name);
                }
                catch (OnnxRuntimeGenAIException ex)
                {
                    throw new ModelLoadException(modelPath, $"onnxruntime-genai cannot load the adapter '{adapter.Name}' from '{path}' ({ex.Message.Trim()}).", ex);
                }
            }

            return adapters;
        }
        catch
        {
            adapters.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The request's guidance: <see cref="GenerationOptions.JsonSchema"/> (or <see cref="GenerationOptions.AnyJson"/>) maps
    /// onto onnxruntime-genai's <c>json_schema</c> guidance, else <paramref name="genAIOptions"/>'s own constraint.
    /// </summary>
    private static (string Type, string Data)? Guidance(GenerationOptions settings, GenAIRequestOptions? genAIOptions)
    {
        var own = genAIOptions?.Guidance();
        if (settings.JsonOutput() is not { } json)
        {
            return own;
        }

        if (json.Prefix.Length > 0 || json.Suffix.Length > 0)
        {
            throw new NotSupportedException("The GenAI backend cannot constrain output to text around a JSON value (GenerationOptions.FramedJson, used for required tool calls); use the OnnxGpt backend.");
        }

        if (own is not null)
        {
            throw new ArgumentException("Set GenerationOptions.JsonSchema (or AnyJson) or a GenAIRequestOptions constraint, not both.", nameof(genAIOptions));
        }

        // Compact JSON (llguidance's x-guidance), as the OnnxGpt backend's bounded whitespace: a model that knows no JSON
        // would otherwise fill the budget with newlines.
        var schema = System.Text.Json.Nodes.JsonNode.Parse(json.Schema ?? "{}") as System.Text.Json.Nodes.JsonObject ?? [];
        schema["x-guidance"] ??= new System.Text.Json.Nodes.JsonObject { ["whitespace_flexible"] = false, ["item_separator"] = ",", ["key_separator"] = ":" };
        return ("json_schema", schema.ToJsonString());
    }
}
