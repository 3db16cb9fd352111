using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation;
using OnnxGpt.Generation.Decoding;
using OnnxGpt.Models;
using OnnxGpt.Providers;
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
    private readonly GenAIDecoder _decoder;
    private readonly DecoderGenerator _loop;

    private GenAIGenerator(GenAIDecoder decoder, ILoggerFactory? loggerFactory)
    {
        _decoder = decoder;
        _loop = DecoderGenerator.Create(decoder, loggerFactory);
    }

    /// <inheritdoc />
    public GptModelInfo ModelInfo => _decoder.Info;

    /// <summary>The execution provider that serves the model (<c>Cpu</c>, <c>Cuda</c> or <c>DirectML</c>).</summary>
    public string ExecutionProvider => _decoder.ExecutionProvider;

    /// <summary>The options the model was loaded with (their <see cref="GptOptions.Generation"/> defaults apply to every request).</summary>
    public GptOptions Options => _decoder.Options;

    /// <summary>OnnxGpt's tokenizer for the model, or null when the folder has none it reads (onnxruntime-genai's then serves text prompts).</summary>
    public GptTokenizer? Tokenizer => _decoder.Tokenizer;

    /// <summary>The names of the LoRA adapters loaded with the model (<see cref="GenAIOptions.Adapters"/>).</summary>
    public IReadOnlyList<string> AdapterNames => _decoder.AdapterNames;

    /// <summary>The decoder OnnxGpt's generation loop drives (one onnxruntime-genai generator per request).</summary>
    public GptDecoder Decoder => _decoder;

    /// <summary>Conversations whose generator is kept now (<see cref="GenerationOptions.ConversationId"/>).</summary>
    internal int KeptConversationCount => _decoder.KeptConversationCount;

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
        GenAITextCodec? codec = null;
        try
        {
            string provider;
            (model, provider) = LoadModel(config, modelPath, options, genAIOptions.ConfigOverlay, logger);
            adapters = LoadAdapters(model, folder.Directory, modelPath, genAIOptions);
            if (folder.Tokenizer is null && folder.HasTokenizerJson)
            {
                Log.UsingGenAITokenizer(logger, modelPath);
                codec = new GenAITextCodec(new Tokenizer(model));
            }

            if (logger.IsEnabled(LogLevel.Information))
            {
                Log.ModelLoaded(logger, modelPath, folder.ModelType, folder.Info.ContextLength, folder.Info.VocabularySize, provider);
            }

            return new GenAIGenerator(new GenAIDecoder(config, model, adapters, codec, folder, provider, options, genAIOptions, logger), loggerFactory);
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
    public IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options, GenAIRequestOptions? genAIOptions, CancellationToken cancellationToken = default) =>
        _loop.StreamAsync(prompt, options, genAIOptions, cancellationToken);

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
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : _loop.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    public void Dispose() => _decoder.Dispose();

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

    private static (Model Model, string Provider) LoadModel(Config config, string modelPath, GptOptions options, string? userOverlay, ILogger logger)
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
                        ApplyCpuSessionOptions(config, provider, options.IntraOpNumThreads);
                        break;
                }

                if (name != ExecutionProviderOptions.Cpu && SessionOptionsOverlay(provider, null) is { } entries)
                {
                    // Session config entries are not the CPU's alone (they stay in the config for a later entry too).
                    config.Overlay(entries);
                }

                if (!string.IsNullOrWhiteSpace(userOverlay))
                {
                    // GenAIOptions.ConfigOverlay is the user's last word over OnnxGpt's choices (it was checked once already).
                    config.Overlay(userOverlay);
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

    /// <summary>The CPU entry's session settings (OnnxGpt's thread choice and its session config entries), as genai_config.json's decoder session_options.</summary>
    private static void ApplyCpuSessionOptions(Config config, ExecutionProviderOptions provider, int? intraOpThreads)
    {
        var threading = CpuThreading.Choose(provider.IntraOpNumThreads ?? intraOpThreads, provider.InterOpNumThreads, CpuThreading.CoresAvailable, provider.SessionConfigEntries);
        if (SessionOptionsOverlay(provider, threading) is { } overlay)
        {
            config.Overlay(overlay);
        }
    }

    /// <summary>
    /// The genai_config.json overlay that gives onnxruntime-genai's decoder session what OnnxGpt's own runtime would
    /// set (SessionFactory): on the CPU (<paramref name="threading"/> not null) the chosen intra-op and inter-op
    /// threads, the arena switch and the threading's config entries (spinning, dynamic blocks) the user did not set
    /// themselves; then the entry's <see cref="ExecutionProviderOptions.SessionConfigEntries"/>. onnxruntime-genai
    /// passes every string-valued key of <c>session_options</c> it does not know itself to ONNX Runtime's
    /// <c>AddConfigEntry</c>. Null when there is nothing to set.
    /// </summary>
    internal static string? SessionOptionsOverlay(ExecutionProviderOptions provider, CpuThreading? threading)
    {
        var settings = new List<string>();
        if (threading is not null)
        {
            if (threading.IntraOpThreads > 0)
            {
                settings.Add("\"intra_op_num_threads\":" + threading.IntraOpThreads.ToString(CultureInfo.InvariantCulture));
            }

            if (threading.InterOpThreads > 0)
            {
                settings.Add("\"inter_op_num_threads\":" + threading.InterOpThreads.ToString(CultureInfo.InvariantCulture));
            }

            if (provider.EnableCpuMemArena is { } arena)
            {
                settings.Add("\"enable_cpu_mem_arena\":" + (arena ? "true" : "false"));
            }

            foreach (var (key, value) in threading.SessionConfigEntries())
            {
                if (!provider.SessionConfigEntries.ContainsKey(key))
                {
                    settings.Add(ConfigEntry(key, value));
                }
            }
        }

        foreach (var (key, value) in provider.SessionConfigEntries)
        {
            settings.Add(ConfigEntry(key, value));
        }

        return settings.Count == 0 ? null : "{\"model\":{\"decoder\":{\"session_options\":{" + string.Join(",", settings) + "}}}}";
    }

    private static string ConfigEntry(string key, string value) =>
        "\"" + System.Text.Json.JsonEncodedText.Encode(key) + "\":\"" + System.Text.Json.JsonEncodedText.Encode(value) + "\"";

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
}
