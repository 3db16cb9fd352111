using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Caching;
using OnnxGpt.Generation.Speculation;
using OnnxGpt.Models;
using OnnxGpt.Providers;
using OnnxGpt.Telemetry;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Generation;

/// <summary>
/// A loaded GPT-style ONNX model: its session on the chosen execution provider, the layout of its graph,
/// its tokenizer and its defaults. Load it once and share it: it is safe to use from several threads, and each
/// generation keeps its own cache. Dispose it to release the native session; generations still running finish
/// their current step and then end with <see cref="ObjectDisposedException"/>.
/// </summary>
public sealed class GptModel : IGenerationModel, IDisposable
{
    private const int Gpt2VocabularySize = 50257;

    private GptModel(string provider, GptModelInfo info, GptTokenizer? tokenizer, GptOptions options)
    {
        ExecutionProvider = provider;
        Info = info;
        Tokenizer = tokenizer;
        Options = options;
    }

    /// <summary>What the loader found in the graph and the files beside it.</summary>
    public GptModelInfo Info { get; }

    /// <summary>The execution provider that serves this model (<c>Cpu</c>, <c>Cuda</c> or <c>DirectML</c>).</summary>
    public string ExecutionProvider { get; }

    /// <summary>The CPU threads the model's session runs with, and where that number comes from (shown by <c>onnxgpt inspect</c>).</summary>
    public CpuThreading Threading { get; private init; } = CpuThreading.Default;

    /// <summary>
    /// Where request caches live: <c>host</c>, or the device's memory on CUDA (<c>Cuda device 0</c>), so that
    /// <c>present</c> becomes the next <c>past</c> without a copy. Host on CUDA means the device cache failed its check
    /// at load (a warning says why).
    /// </summary>
    public string CacheLocation => Runtime.CachePool.Memory.Description;

    /// <summary>The model's tokenizer, or null when its folder has none (prompts must then be token ids).</summary>
    public GptTokenizer? Tokenizer { get; }

    /// <summary>The options the model was loaded with (their <see cref="GptOptions.Generation"/> defaults apply to every request).</summary>
    public GptOptions Options { get; }

    /// <summary>What the model runs on: sessions, native names, the cache pool, conversations and the scheduler.</summary>
    internal ModelRuntime Runtime { get; private set; } = null!;

    /// <summary>The graph's layout (inputs, outputs, cache convention).</summary>
    internal GraphLayout Layout => Runtime.Layout;

    /// <summary>The draft model for speculative decoding (<see cref="GptOptions.DraftModelPath"/>), or null.</summary>
    internal GptModel? DraftModel { get; private set; }

    /// <summary>Loads a model folder (or <c>.onnx</c> file) on the CPU.</summary>
    /// <param name="modelPath">The model folder (the graph in it or in its <c>onnx/</c> subfolder), or the graph itself.</param>
    /// <param name="loggerFactory">Where to log what was loaded and any fallback; null logs nothing.</param>
    /// <returns>The loaded model.</returns>
    /// <exception cref="ModelLoadException">The path is missing or the model cannot be used; the message says why.</exception>
    public static GptModel Load(string modelPath, ILoggerFactory? loggerFactory = null) =>
        Load(new GptOptions { ModelPath = modelPath }, loggerFactory);

    /// <summary>Loads the model <paramref name="options"/> names, on the first of its execution providers that works.</summary>
    /// <param name="options">The model path, execution providers and defaults.</param>
    /// <param name="loggerFactory">Where to log what was loaded and any fallback; null logs nothing.</param>
    /// <returns>The loaded model.</returns>
    /// <exception cref="ArgumentException">The options are invalid; the message names the setting.</exception>
    /// <exception cref="ModelLoadException">The path is missing or the model cannot be used; the message says why.</exception>
    /// <exception cref="ExecutionProviderException">No listed execution provider could run the model.</exception>
    public static GptModel Load(GptOptions options, ILoggerFactory? loggerFactory = null) => Load(options, loggerFactory, deviceCacheMemory: null);

    /// <summary>
    /// <see cref="Load(GptOptions, ILoggerFactory?)"/>, with the device cache memory chosen by the caller instead of
    /// the provider's (tests: memory ONNX Runtime is told is on a device, to run the device paths without a GPU).
    /// </summary>
    /// <param name="options">The model path, execution providers and defaults.</param>
    /// <param name="loggerFactory">Where to log what was loaded and any fallback; null logs nothing.</param>
    /// <param name="deviceCacheMemory">The cache memory to use instead of the provider's, or null.</param>
    /// <param name="nativeRun">False: the per-token loop runs through ONNX Runtime's managed API (tests of the fallback).</param>
    internal static GptModel Load(GptOptions options, ILoggerFactory? loggerFactory, Func<InferenceSession, CacheMemory>? deviceCacheMemory, bool nativeRun = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        var validation = new GptOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new ArgumentException(validation.FailureMessage, nameof(options));
        }

        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<GptModel>();
        var modelPath = options.ModelPath!;
        var folder = ModelFolder.Resolve(modelPath, options.Variant);
        var (directory, graphPath, prefillGraphPath) = (folder.Directory, folder.GraphPath, folder.PrefillGraphPath);
        var config = ModelConfiguration.Read(directory);
        foreach (var warning in config.Warnings)
        {
            Log.ConfigIgnored(logger, modelPath, warning);
        }

        // The split layout's step graph runs one position at a time: trimming its logits would gain nothing.
        var rewrite = options.OptimizeGraph && prefillGraphPath is null ? GraphRewriter.TryRewrite(graphPath, modelPath, logger) : null;
        (InferenceSession Session, string Provider) Open(byte[]? graph) =>
            SessionFactory.Create(graphPath, graph, modelPath, [.. options.ExecutionProviders], options.IntraOpNumThreads, logger, options.RequireExecutionProvider);

        InferenceSession session;
        string provider;
        try
        {
            (session, provider) = Open(rewrite?.Graph);
        }
        catch (Exception ex) when (rewrite is not null && ex is ModelLoadException or ExecutionProviderException)
        {
            // ONNX Runtime checks some things only for a graph loaded from bytes (where its external data lies): the file as stored then loads, or names its own problem.
            Log.GraphNotRewritten(logger, modelPath, $"ONNX Runtime did not load the rewritten graph: {ex.Message}");
            rewrite = null;
            (session, provider) = Open(null);
        }

        InferenceSession? prefillSession = null;
        try
        {
            var layout = GraphLayout.Detect(session.InputMetadata, session.OutputMetadata, config, modelPath, session.OverridableInitializerMetadata);
            if (prefillGraphPath is not null)
            {
                prefillSession = SessionFactory.Create(prefillGraphPath, null, modelPath, [options.ExecutionProviders.FirstOrDefault(p => ExecutionProviderOptions.Normalize(p.Name) == provider) ?? new ExecutionProviderOptions(provider)], options.IntraOpNumThreads, logger, requireFirst: true).Session;
                layout.CheckPrefillGraph(prefillSession.InputMetadata, prefillSession.OutputMetadata, modelPath);
            }

            if (layout.Convention == KvCacheConvention.None)
            {
                Log.NoCache(logger, modelPath);
            }

            var vocabulary = layout.LogitsVocabularySize ?? config.VocabularySize
                ?? throw new ModelLoadException(modelPath, "neither the graph's logits nor config.json give the vocabulary size.");
            if (layout.LogitsVocabularySize is { } graphVocab && config.VocabularySize is { } configVocab && graphVocab != configVocab)
            {
                Log.ConfigContradictsGraph(logger, modelPath, "vocab_size", configVocab.ToString(System.Globalization.CultureInfo.InvariantCulture), graphVocab.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }

            // Positions numbered from 1 (Gemma 3) reach max_position_embeddings one token earlier.
            var context = config.ContextLength is { } positions ? Math.Max(1, positions - layout.FirstPositionId) : int.MaxValue;
            if (config.ContextLength is null)
            {
                Log.NoContextLength(logger, modelPath);
            }

            var tokenizer = LoadTokenizer(directory, config, vocabulary, logger, modelPath);
            var info = new GptModelInfo
            {
                ModelPath = modelPath,
                GraphPath = graphPath,
                PrefillGraphPath = prefillGraphPath,
                GraphRewrites = rewrite?.Applied ?? [],
                Variant = folder.Variant,
                Variants = folder.Variants,
                GraphFormat = prefillGraphPath is not null ? "split decoder (decoder_model.onnx + decoder_with_past_model.onnx)"
                    : layout.HasUseCacheBranch ? "merged decoder (use_cache_branch)"
                    : "single graph",
                CacheConvention = layout.Convention,
                LayerCount = layout.LayerCount,
                AttentionHeads = config.AttentionHeads,
                KeyValueHeads = layout.KeyValueHeads,
                HeadSize = layout.HeadSize,
                CacheElementType = layout.CacheElementType == TensorElementType.Float16 ? "float16" : "float32",
                ContextLength = context,
                VocabularySize = vocabulary,
                BosTokenId = config.BosTokenId,
                EosTokenIds = config.EosTokenIds,
                PadTokenId = config.PadTokenId,
                HasPositionIds = layout.HasPositionIds,
                TokenizerKind = tokenizer?.Kind,
                Defaults = config.Defaults,
            };

            if (logger.IsEnabled(LogLevel.Information))
            {
                Log.ModelLoaded(logger, modelPath, layout.Convention.ToString(), info.LayerCount, info.KeyValueHeads, info.HeadSize, info.ContextLength, info.VocabularySize, provider);
            }
            var model = new GptModel(provider, info, tokenizer, options)
            {
                Threading = SessionFactory.Threading(options.ExecutionProviders.FirstOrDefault(p => ExecutionProviderOptions.Normalize(p.Name) == provider) ?? new ExecutionProviderOptions(provider), options.IntraOpNumThreads),
            };
            model.Runtime = new ModelRuntime(model, session, layout, prefillSession, ModelRuntime.CreateCacheMemory(session, provider, options, deviceCacheMemory, logger, modelPath), logger, nativeRun);
            GenAIInstruments.TrackCachePool(model, modelPath, () => model.Runtime.CachePool.RentedBytes + model.Runtime.CachePool.IdleBytes);
            try
            {
                model.Runtime.VerifyNativeRun(logger);
                model.Runtime.VerifyDeviceCache(logger);
                if (options.DraftModelPath is { } draftPath)
                {
                    model.DraftModel = DraftModels.Load(model, draftPath, loggerFactory);
                }
            }
            catch
            {
                model.Dispose();
                throw;
            }

            return model;
        }
        catch
        {
            session.Dispose();
            prefillSession?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// How many request caches are handed out now and how many are kept idle for reuse. When no generation runs,
    /// <see cref="KvCacheStatistics.Rented"/> is 0: every request returns its cache, however it ended.
    /// </summary>
    public KvCacheStatistics CacheStatistics => new(Runtime.CachePool.Rented, Runtime.CachePool.Idle, Runtime.Conversations.Count, Runtime.CachePool.RentedBytes, Runtime.CachePool.IdleBytes);

    /// <summary>Turns text into the token ids this model reads (with bos when the model adds it).</summary>
    /// <param name="text">The text to encode.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="InvalidOperationException">The model has no tokenizer.</exception>
    public IReadOnlyList<int> Encode(string text) => RequireTokenizer().Encode(text);

    /// <summary>Turns token ids back into text.</summary>
    /// <param name="tokenIds">The ids to decode.</param>
    /// <returns>The text.</returns>
    /// <exception cref="InvalidOperationException">The model has no tokenizer.</exception>
    public string Decode(IEnumerable<int> tokenIds) => RequireTokenizer().Decode(tokenIds);

    /// <inheritdoc />
    public void Dispose()
    {
        DraftModel?.Dispose();
        GenAIInstruments.UntrackCachePool(this);
        Runtime.Dispose();
    }

    /// <inheritdoc />
    Generation.Decoding.ITokenTextStream? IGenerationModel.CreateTextStream() => null;

    internal GptTokenizer RequireTokenizer() => Tokenizer
        ?? throw new InvalidOperationException($"The model at '{Info.ModelPath}' has no tokenizer files (vocab.json + merges.txt, or tokenizer.model); give the prompt as token ids instead.");

    private static GptTokenizer? LoadTokenizer(string directory, ModelConfiguration config, int vocabulary, ILogger logger, string modelPath)
    {
        var hasBpe = File.Exists(Path.Combine(directory, "vocab.json")) && File.Exists(Path.Combine(directory, "merges.txt"));
        var hasSentencePiece = File.Exists(Path.Combine(directory, "tokenizer.model"));

        // GPT-2's built-in vocabulary fits only a graph with GPT-2's 50257 scores (a fine-tuned GPT-2 with its own
        // vocabulary must ship its tokenizer files).
        var builtIn = string.Equals(config.ModelType, "gpt2", StringComparison.OrdinalIgnoreCase) && vocabulary == Gpt2VocabularySize;
        if (!GptTokenizer.HasTokenizerFiles(directory) && !builtIn)
        {
            Log.NoTokenizer(logger, modelPath);
            return null;
        }

        var addBos = config.AddBosToken ?? (!hasBpe && hasSentencePiece);
        var tokenizer = GptTokenizer.Load(directory, new TokenizerSettings(config.ModelType, config.BosTokenId, addBos));

        // Padded logits (wider than the vocabulary) are fine: generation masks the tail. A vocabulary wider than the
        // logits means the tokenizer belongs to another model.
        if (tokenizer.VocabularySize is int size && size > vocabulary)
        {
            throw new ModelLoadException(
                modelPath,
                $"the tokenizer has {size} token ids but the graph scores only {vocabulary}: the tokenizer files belong to another model. Use the tokenizer of this checkpoint.");
        }

        return tokenizer;
    }
}
