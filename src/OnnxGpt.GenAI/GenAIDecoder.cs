using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation;
using OnnxGpt.Generation.Decoding;
using OnnxGpt.Tokenization;

namespace OnnxGpt.GenAI;

/// <summary>
/// onnxruntime-genai as a decoder of OnnxGpt's generation loop: each request is one onnxruntime-genai
/// <c>Generator</c> (<see cref="GenAISequence"/>), which appends the prompt, chooses each token natively
/// (<c>GenerateNextToken</c>) and rewinds for conversations (<c>RewindTo</c>). Everything else (prompt, options,
/// stops, finish, results, telemetry, conversation policy) is the loop's.
/// </summary>
internal sealed class GenAIDecoder : GptDecoder
{
    private readonly Config _config;
    private readonly Model _model;
    private readonly Adapters? _adapters;
    private readonly GenAITextCodec? _codec;
    private readonly GptTokenizer? _tokenizer;
    private readonly GenAIOptions _genAIOptions;
    private readonly ILogger _logger;
    private static readonly string GenAIOptionsName = "genAIOptions";   // the parameter of GenAIGenerator.StreamAsync
    private volatile int _rewindUnsupported;

    public GenAIDecoder(Config config, Model model, Adapters? adapters, GenAITextCodec? codec, GenAIModelFolder folder, string provider, Generation.GptOptions options, GenAIOptions genAIOptions, ILogger logger)
        : base(folder.Info, options, provider)
    {
        _config = config;
        _model = model;
        _adapters = adapters;
        _codec = codec;
        _tokenizer = folder.Tokenizer;
        _genAIOptions = genAIOptions;
        _logger = logger;
        AdapterNames = [.. genAIOptions.Adapters.Select(a => a.Name)];
    }

    public override GptTokenizer? Tokenizer => _tokenizer;

    public override bool SamplesNatively => true;

    /// <summary>The names of the LoRA adapters loaded with the model.</summary>
    public IReadOnlyList<string> AdapterNames { get; }

    /// <summary>Whether onnxruntime-genai refused to rewind one of this model's generators: conversations then run their whole prompt.</summary>
    public bool RewindUnsupported => _rewindUnsupported != 0;

    /// <summary>The model's own settings that onnxruntime-genai lacks (min-p) were logged at load and are left out.</summary>
    protected override GenerationOptions ModelDefaults
    {
        get
        {
            var defaults = base.ModelDefaults;
            defaults.MinP = null;
            return defaults;
        }
    }

    /// <summary>The adapter a request runs with: its own, else <see cref="GenAIOptions.DefaultAdapter"/>.</summary>
    public string? AdapterFor(DecoderRequest request) => (request.RequestOptions as GenAIRequestOptions)?.Adapter ?? _genAIOptions.DefaultAdapter;

    /// <summary>
    /// The search options a request's generator is created with. A conversation's generator is made for the whole
    /// context, so that its later, longer turns fit (the loop stops at the request's own limit).
    /// </summary>
    public GenAISearchSettings SearchFor(DecoderRequest request)
    {
        var needed = request.PromptIds.Count + request.MaxNewTokens;
        var context = Info.ContextLength;
        return GenAISearchSettings.From(request.Settings, request.PromptIds.Count, request.ConversationId is null || context == int.MaxValue ? needed : Math.Max(needed, context));
    }

    /// <summary>Logs, once, that this model's generators cannot rewind; conversations run their whole prompt from then on.</summary>
    public void RewindFailed(OnnxRuntimeGenAIException ex)
    {
        if (Interlocked.Exchange(ref _rewindUnsupported, 1) == 0)
        {
            Log.RewindFailed(_logger, Info.ModelPath, ex.Message.Trim());
        }
    }

    protected override void ValidateOptions(GenerationOptions? options) => GenAISearchOptions.ThrowIfUnsupported(options, nameof(GenerationOptions));

    protected override void Validate(DecoderRequest request)
    {
        _ = Guidance(request);
        var adapter = AdapterFor(request);
        if (adapter is not null && !AdapterNames.Contains(adapter, StringComparer.Ordinal))
        {
            throw new ArgumentException($"GenAIRequestOptions.Adapter '{adapter}' is not loaded; the model has {(AdapterNames.Count == 0 ? "no adapters (add them to GenAIOptions.Adapters)" : string.Join(", ", AdapterNames))}.", GenAIOptionsName);
        }
    }

    /// <summary>
    /// A constraint's state belongs to one request; onnxruntime-genai seeds a generator only when it is created (the
    /// same seed must give the same output); its <c>min_length</c> counts the prompt: such requests neither use nor
    /// keep a conversation's generator.
    /// </summary>
    protected override bool CanUseConversation(DecoderRequest request) =>
        Guidance(request) is null && !RewindUnsupported && SearchFor(request).IsResumable;

    protected override IReadOnlyList<int> Encode(string text, bool addSpecialTokens) =>
        _tokenizer?.Encode(text, addSpecialTokens)
        ?? _codec?.Encode(text)
        ?? throw new InvalidOperationException($"The model at '{Info.ModelPath}' has no tokenizer files (vocab.json + merges.txt, tokenizer.model or tokenizer.json); give the prompt as token ids instead.");

    protected override ITokenTextStream? CreateTextStream() => _codec?.CreateStream();

    protected override DecoderSequence Open(DecoderRequest request) =>
        new GenAISequence(this, _model, SearchFor(request), Guidance(request), _adapters, AdapterFor(request), keepable: request.ConversationId is not null);

    protected override void ReleaseResources()
    {
        _codec?.Dispose();
        _adapters?.Dispose();
        _model.Dispose();
        _config.Dispose();
    }

    /// <summary>
    /// The request's guidance: <see cref="GenerationOptions.JsonSchema"/> (or <see cref="GenerationOptions.AnyJson"/>) maps
    /// onto onnxruntime-genai's <c>json_schema</c> guidance, else the request's <see cref="GenAIRequestOptions"/> constraint.
    /// </summary>
    private static (string Type, string Data)? Guidance(DecoderRequest request)
    {
        var own = (request.RequestOptions as GenAIRequestOptions)?.Guidance();
        if (request.JsonSchema is not { } json)
        {
            return own;
        }

        if (request.JsonFramed)
        {
            throw new NotSupportedException("The GenAI backend cannot constrain output to text around a JSON value (GenerationOptions.FramedJson, used for required tool calls); use the OnnxGpt backend.");
        }

        if (own is not null)
        {
            throw new ArgumentException("Set GenerationOptions.JsonSchema (or AnyJson) or a GenAIRequestOptions constraint, not both.", GenAIOptionsName);
        }

        // Compact JSON (llguidance's x-guidance), as the OnnxGpt backend's bounded whitespace: a model that knows no JSON
        // would otherwise fill the budget with newlines.
        var schema = System.Text.Json.Nodes.JsonNode.Parse(json) as System.Text.Json.Nodes.JsonObject ?? [];
        schema["x-guidance"] ??= new System.Text.Json.Nodes.JsonObject { ["whitespace_flexible"] = false, ["item_separator"] = ",", ["key_separator"] = ":" };
        return ("json_schema", schema.ToJsonString());
    }
}
