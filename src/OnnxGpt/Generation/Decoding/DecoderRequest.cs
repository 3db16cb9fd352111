namespace OnnxGpt.Generation.Decoding;

/// <summary>
/// For backend authors: one request as OnnxGpt's generation loop hands it to a <see cref="GptDecoder"/>, checked and
/// resolved (every setting of <see cref="Settings"/> has its request, application and model default applied).
/// </summary>
public sealed class DecoderRequest
{
    internal DecoderRequest(IReadOnlyList<int> promptIds, int maxNewTokens, GenerationOptions settings, string? conversationId, object? requestOptions, CancellationToken cancellationToken)
    {
        Prompt = [.. promptIds];
        PromptIds = Prompt;
        MaxNewTokens = maxNewTokens;
        Settings = settings;
        ConversationId = conversationId;
        RequestOptions = requestOptions;
        CancellationToken = cancellationToken;
        if (settings.JsonOutput() is { } json)
        {
            JsonSchema = json.Schema ?? "{}";
            JsonFramed = json.Prefix.Length > 0 || json.Suffix.Length > 0;
        }
    }

    /// <summary>The prompt's token ids (never empty, all in the vocabulary, shorter than the context).</summary>
    public IReadOnlyList<int> PromptIds { get; }

    internal int[] Prompt { get; }

    /// <summary>The most tokens the loop will generate (the loop itself stops there).</summary>
    public int MaxNewTokens { get; }

    /// <summary>The resolved settings.</summary>
    public GenerationOptions Settings { get; }

    /// <summary>
    /// The conversation whose sequence the request may continue and keep (<see cref="GenerationOptions.ConversationId"/>,
    /// when conversations are kept and <see cref="GptDecoder.CanUseConversation"/> allowed it), or null. A sequence
    /// opened for a conversation should hold the whole context, so that the conversation's later turns fit.
    /// </summary>
    public string? ConversationId { get; internal set; }

    /// <summary>The backend's own per-request settings, as given to <see cref="DecoderGenerator.StreamAsync(GptPrompt, GenerationOptions?, object?, CancellationToken)"/>, or null.</summary>
    public object? RequestOptions { get; }

    /// <summary>The request's cancellation: a backend that can stop a run in progress should (see <see cref="DecoderSequence.Attach"/>).</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>The JSON schema the output must match (<c>{}</c>: any JSON value), or null when the output is free.</summary>
    public string? JsonSchema { get; }

    /// <summary>Whether the JSON value must be surrounded by fixed text (required tool calls), which only OnnxGpt's own sampler honours.</summary>
    public bool JsonFramed { get; }
}
