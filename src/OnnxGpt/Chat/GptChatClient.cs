using System.Globalization;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;
using OnnxGpt.Models;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Chat;

/// <summary>
/// A Microsoft.Extensions.AI <see cref="IChatClient"/> over an <see cref="IGptGenerator"/>: renders the conversation
/// with the model's <see cref="IChatTemplate"/>, generates the assistant's reply, and reports its finish reason and
/// usage. <c>AddGpt</c> registers one as <see cref="IChatClient"/>, so <c>ChatClientBuilder</c> middleware
/// (logging, telemetry, caching) composes on top. Safe to call from several threads at once.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="ChatOptions"/> maps onto <see cref="GenerationOptions"/>: <c>MaxOutputTokens</c> to
/// <see cref="GenerationOptions.MaxNewTokens"/>; <c>Temperature</c>, <c>TopP</c>, <c>TopK</c>, <c>FrequencyPenalty</c>,
/// <c>PresencePenalty</c> (OpenAI's semantics, over the generated tokens) and <c>Seed</c> (which must fit an
/// <see cref="int"/>) to the settings of the same name; <c>StopSequences</c> to
/// <see cref="GenerationOptions.StopSequences"/>, with the template's own stop text added. <see cref="ChatOptions"/> has no
/// "do sample": a <c>Temperature</c> above 0 samples and 0 is greedy (as in OpenAI's API); without a temperature, a
/// <c>TopP</c> or <c>TopK</c> turns sampling on; with none of them the model's and application's defaults decide.
/// <c>Instructions</c> become a system message before the conversation. A <c>RawRepresentationFactory</c> may return
/// a <see cref="GenerationOptions"/> to start from (for settings such as <see cref="GenerationOptions.MinP"/>); the
/// chat options are applied over it. A <c>ModelId</c> other than <see cref="ModelId"/> is refused.
/// </para>
/// <para>
/// <c>ResponseFormat</c> constrains the output: <c>ChatResponseFormat.ForJsonSchema(schema)</c> to
/// <see cref="GenerationOptions.JsonSchema"/>, <c>ChatResponseFormat.Json</c> to a JSON object, so
/// <c>GetResponseAsync&lt;T&gt;</c> returns a valid <c>T</c>. A schema with a keyword the constraint lacks throws
/// <see cref="ArgumentException"/> naming <c>ResponseFormat</c> and the keyword.
/// </para>
/// <para>
/// What the model cannot honour is refused with <see cref="NotSupportedException"/> naming the option, never ignored:
/// <c>Tools</c>, a <c>ToolMode</c> other than none,
/// <c>Reasoning</c>, <c>AllowBackgroundResponses</c>, <c>ContinuationToken</c>, <c>AdditionalProperties</c>, and message
/// content other than text. Settings out of range throw <see cref="ArgumentOutOfRangeException"/> naming the
/// <see cref="ChatOptions"/> property. Cancellation throws an <see cref="OperationCanceledException"/> (a
/// <see cref="GenerationCanceledException"/> once generation has started).
/// </para>
/// <para>
/// With <c>ChatOptions.ConversationId</c> the client is stateful, as Microsoft.Extensions.AI describes: it keeps the
/// conversation's messages, so each call sends only the new ones, and the model keeps the conversation's KV cache
/// (<see cref="GenerationOptions.ConversationId"/>), so a turn runs only the tokens it adds. The response carries the
/// same id. The most recent conversations are kept (<see cref="MaxConversations"/>).
/// </para>
/// <para>
/// A conversation (kept or sent whole) that outgrows the context loses its oldest turns after the leading system
/// messages, so that <see cref="GptChatClientOptions.ReservedAnswerTokens"/> stay free for the answer
/// (<see cref="GptChatClientOptions.ContextOverflow"/>; measured with the model's tokenizer, so on OnnxGpt's backend).
/// A kept conversation forgets the dropped turns, so its later turns share the trimmed prefix and reuse its cache.
/// The response's <see cref="DroppedMessagesProperty"/> and an information log say how many messages were dropped.
/// </para>
/// </remarks>
public sealed class GptChatClient : IChatClient
{
    /// <summary>How many conversations' messages the client keeps; the oldest is forgotten beyond it.</summary>
    public const int MaxConversations = 256;

    /// <summary>
    /// The key in <see cref="ChatResponse.AdditionalProperties"/> (and the last <see cref="ChatResponseUpdate"/>'s) of
    /// the number of oldest messages dropped to fit the context; absent when none were.
    /// </summary>
    public const string DroppedMessagesProperty = "onnxgpt.dropped_messages";

    private readonly IGptGenerator _generator;
    private readonly IList<string>? _defaultStops;
    private readonly Lock _conversationsGate = new();
    private readonly Dictionary<string, List<ChatMessage>> _conversations = new(StringComparer.Ordinal);
    private readonly Queue<string> _conversationOrder = new();
    private readonly ConversationTrimmer? _trimmer;
    private readonly int? _reservedAnswerTokens;
    private readonly ILogger _logger;

    /// <summary>Creates a chat client over a generator. The client does not own the generator.</summary>
    /// <param name="generator">The generator that runs the model.</param>
    /// <param name="options">The template, model id and default stop sequences; null chooses everything from the model folder.</param>
    /// <param name="loggerFactory">Where the client logs (dropped turns); null: nowhere.</param>
    /// <exception cref="ArgumentException"><see cref="GptChatClientOptions.TemplateName"/> is not a known template.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="GptChatClientOptions.ReservedAnswerTokens"/> is negative.</exception>
    public GptChatClient(IGptGenerator generator, GptChatClientOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(generator);
        _generator = generator;
        options ??= new GptChatClientOptions();
        if (options.ReservedAnswerTokens is < 0)
        {
            throw OutOfRange(nameof(GptChatClientOptions.ReservedAnswerTokens), $"GptChatClientOptions.ReservedAnswerTokens must be 0 or more (null: the request's MaxOutputTokens, else a quarter of the context), but was {options.ReservedAnswerTokens}.");
        }

        _reservedAnswerTokens = options.ReservedAnswerTokens;
        _trimmer = options.ContextOverflow == ContextOverflow.DropOldestTurns && TokenizerOf(generator) is { } tokenizer && generator.ModelInfo.ContextLength > 0
            ? new ConversationTrimmer(tokenizer, generator.ModelInfo.ContextLength)
            : null;
        _logger = loggerFactory?.CreateLogger<GptChatClient>() ?? (ILogger)NullLogger.Instance;
        var directory = ModelDirectory(generator.ModelInfo);
        Template = options.ResolveTemplate(directory);
        ModelId = options.ModelId ?? (directory is null ? null : Path.GetFileName(directory)) ?? "onnxgpt";
        _defaultStops = options.DefaultStopSequences ?? (generator as GptGenerator)?.Model.Options.Generation?.StopSequences;
        Metadata = new ChatClientMetadata("OnnxGpt", directory is null ? null : new Uri(Path.GetFullPath(directory)), ModelId);
    }

    /// <summary>The model's id: the name of its folder, unless <see cref="GptChatClientOptions.ModelId"/> sets another.</summary>
    public string ModelId { get; }

    /// <summary>The chat template in use.</summary>
    public IChatTemplate Template { get; }

    /// <summary>Describes this client: provider <c>OnnxGpt</c>, the model folder, and <see cref="ModelId"/>.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <summary>The generator behind this client.</summary>
    public IGptGenerator Generator => _generator;

    /// <summary>Renders a conversation as the prompt this client would send to the model.</summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="options">The request's options (its <c>Instructions</c> are rendered as a leading system message).</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="NotSupportedException">A message holds content other than text, or a role the template cannot render.</exception>
    public string FormatPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var conversation = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(options?.Instructions))
        {
            conversation.Add(new ChatMessage(ChatRole.System, options.Instructions));
        }

        foreach (var message in messages)
        {
            ArgumentNullException.ThrowIfNull(message, nameof(messages));
            foreach (var content in message.Contents)
            {
                if (content is not TextContent)
                {
                    throw new NotSupportedException($"A {message.Role} message holds {content.GetType().Name}; {nameof(GptChatClient)} renders text content only.");
                }
            }

            conversation.Add(message);
        }

        if (conversation.Count == 0)
        {
            throw new ArgumentException("The conversation has no messages.", nameof(messages));
        }

        return Template.Format(conversation, addGenerationPrompt: true);
    }

    /// <summary>Maps chat options onto generation options (see the class remarks), validating them.</summary>
    /// <param name="options">The chat options; null gives default generation options (plus the template's stop text).</param>
    /// <returns>The generation options.</returns>
    /// <exception cref="NotSupportedException">An option cannot be honoured; the message names it.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the exception names it.</exception>
    public GenerationOptions ToGenerationOptions(ChatOptions? options)
    {
        var generation = Start(options);
        if (options is not null)
        {
            Refuse(options);
            if (options.MaxOutputTokens is { } max)
            {
                generation.MaxNewTokens = max;
            }

            generation.Temperature = options.Temperature ?? generation.Temperature;
            generation.TopP = options.TopP ?? generation.TopP;
            generation.TopK = options.TopK ?? generation.TopK;
            generation.FrequencyPenalty = options.FrequencyPenalty ?? generation.FrequencyPenalty;
            generation.PresencePenalty = options.PresencePenalty ?? generation.PresencePenalty;
            if (generation.DoSample is null)
            {
                if (options.Temperature is { } temperature)
                {
                    generation.DoSample = temperature > 0;
                }
                else if (options.TopP is not null || options.TopK is not null)
                {
                    generation.DoSample = true;
                }
            }

            if (options.Seed is { } seed)
            {
                if (seed is < int.MinValue or > int.MaxValue)
                {
                    throw OutOfRange(nameof(ChatOptions.Seed), $"ChatOptions.Seed must fit a 32-bit integer ({int.MinValue} to {int.MaxValue}), but was {seed}.");
                }

                generation.Seed = (int)seed;
            }

            if (options.StopSequences is not null)
            {
                generation.StopSequences = options.StopSequences;
            }

            if (options.ResponseFormat is ChatResponseFormatJson json)
            {
                // ChatResponseFormat.Json asks for a JSON object, as OpenAI's json_object does.
                generation.JsonSchema = json.Schema is { } schema ? schema.GetRawText() : """{"type":"object"}""";
            }
        }

        var stops = new List<string>();
        foreach (var stop in (generation.StopSequences ?? _defaultStops ?? []).Concat(Template.StopSequences))
        {
            if (string.IsNullOrEmpty(stop))
            {
                throw Invalid(nameof(ChatOptions.StopSequences), "ChatOptions.StopSequences must not contain null or empty strings.");
            }

            if (!stops.Contains(stop))
            {
                stops.Add(stop);
            }
        }

        generation.StopSequences = stops;
        foreach (var (setting, message) in generation.GetErrors())
        {
            if (setting == nameof(GenerationOptions.MaxNewTokens))
            {
                throw OutOfRange(nameof(ChatOptions.MaxOutputTokens), message.Replace(nameof(GenerationOptions.MaxNewTokens), nameof(ChatOptions.MaxOutputTokens), StringComparison.Ordinal));
            }

            // Settings that come from RawRepresentationFactory's GenerationOptions keep their own names.
            if (setting == nameof(GenerationOptions.JsonSchema) && options?.ResponseFormat is ChatResponseFormatJson)
            {
                throw Invalid(nameof(ChatOptions.ResponseFormat), $"ChatOptions.ResponseFormat: {message}");
            }

            throw setting is nameof(GenerationOptions.StopSequences) or nameof(GenerationOptions.CustomStages) or nameof(GenerationOptions.JsonSchema)
                ? Invalid(setting, message)
                : OutOfRange(setting, message);
        }

        return generation;
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (prompt, generation, sent, dropped) = Prepare(messages, options);
        var created = DateTimeOffset.UtcNow;
        var result = await _generator.GenerateAsync(prompt, generation, cancellationToken).ConfigureAwait(false);
        var id = NewId();
        var reply = new ChatMessage(ChatRole.Assistant, result.Text) { MessageId = id, CreatedAt = created };
        Remember(options?.ConversationId, sent, reply);
        return new ChatResponse(reply)
        {
            AdditionalProperties = Dropped(dropped),
            ConversationId = options?.ConversationId,
            ResponseId = id,
            ModelId = ModelId,
            CreatedAt = created,
            FinishReason = Map(result.FinishReason),
            Usage = Usage(result),
            RawRepresentation = result,
        };
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var (prompt, generation, sent, dropped) = Prepare(messages, options);
        var created = DateTimeOffset.UtcNow;
        var id = NewId();
        await foreach (var token in _generator.StreamAsync(prompt, generation, cancellationToken).ConfigureAwait(false))
        {
            if (token.Result is { } result)
            {
                Remember(options?.ConversationId, sent, new ChatMessage(ChatRole.Assistant, result.Text) { MessageId = id, CreatedAt = created });
                var contents = new List<AIContent>(2);
                if (token.Text.Length > 0)
                {
                    contents.Add(new TextContent(token.Text));
                }

                contents.Add(new UsageContent(Usage(result)));
                yield return new ChatResponseUpdate(ChatRole.Assistant, contents)
                {
                    ConversationId = options?.ConversationId,
                    ResponseId = id,
                    MessageId = id,
                    ModelId = ModelId,
                    CreatedAt = created,
                    FinishReason = Map(result.FinishReason),
                    RawRepresentation = token,
                    AdditionalProperties = Dropped(dropped),
                };
                yield break;
            }

            if (token.Text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, token.Text)
                {
                    ConversationId = options?.ConversationId,
                    ResponseId = id,
                    MessageId = id,
                    ModelId = ModelId,
                    CreatedAt = created,
                    RawRepresentation = token,
                };
            }
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return Metadata;
        }

        if (serviceType.IsInstanceOfType(this))
        {
            return this;
        }

        if (serviceType.IsInstanceOfType(_generator))
        {
            return _generator;
        }

        if (serviceType == typeof(GptModelInfo))
        {
            return _generator.ModelInfo;
        }

        return serviceType.IsInstanceOfType(Template) ? Template : null;
    }

    /// <summary>Does nothing: the client owns neither the generator nor the model.</summary>
    public void Dispose()
    {
    }

    internal static ChatFinishReason? Map(FinishReason reason) => reason switch
    {
        FinishReason.Eos or FinishReason.Stop => ChatFinishReason.Stop,
        FinishReason.Length => ChatFinishReason.Length,
        _ => null,
    };

    private static UsageDetails Usage(GenerationResult result) => new()
    {
        InputTokenCount = result.PromptTokenCount,
        OutputTokenCount = result.GeneratedTokenCount,
        TotalTokenCount = result.PromptTokenCount + result.GeneratedTokenCount,
    };

    // The exceptions name the ChatOptions property at fault, as the class documents.
    private static ArgumentOutOfRangeException OutOfRange(string option, string message) => new(option, message);

    private static ArgumentException Invalid(string option, string message) => new(message, option);

    private static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);

    private static string? ModelDirectory(GptModelInfo? info)
    {
        if (info is null)
        {
            return null;
        }

        var directory = !string.IsNullOrEmpty(info.GraphPath) ? Path.GetDirectoryName(info.GraphPath) : null;
        if (string.IsNullOrEmpty(directory) && !string.IsNullOrEmpty(info.ModelPath))
        {
            directory = info.ModelPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase) ? Path.GetDirectoryName(info.ModelPath) : info.ModelPath;
        }

        return string.IsNullOrEmpty(directory) ? null : Path.TrimEndingDirectorySeparator(directory);
    }

    private static AdditionalPropertiesDictionary? Dropped(int dropped) => dropped == 0 ? null : new() { [DroppedMessagesProperty] = dropped };

    /// <summary>The tokenizer that measures prompts: the model's, when the generator (perhaps behind a concurrency limit) is OnnxGpt's.</summary>
    private static GptTokenizer? TokenizerOf(IGptGenerator generator) => generator switch
    {
        GptGenerator gpt => gpt.Model.Tokenizer,
        ConcurrencyLimitedGenerator limited => TokenizerOf(limited.Inner),
        _ => null,
    };

    /// <summary>The prompt, the generation options, the messages sent (the conversation to keep) and how many old ones were dropped.</summary>
    private (GptPrompt Prompt, GenerationOptions Options, IReadOnlyList<ChatMessage> Sent, int Dropped) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var generation = ToGenerationOptions(options);
        var conversation = messages.ToList();
        if (options?.ConversationId is { } id)
        {
            // A stateful conversation: the earlier messages come from the client, the model reuses their cache.
            lock (_conversationsGate)
            {
                if (_conversations.TryGetValue(id, out var kept))
                {
                    conversation.InsertRange(0, kept);
                }
            }

            generation.ConversationId = id;
        }

        if (_trimmer is null)
        {
            return (GptPrompt.FromText(FormatPrompt(conversation, options)), generation, conversation, 0);
        }

        // Render, measure, drop the oldest turns, re-render: a step around the template, whichever it is.
        var context = _generator.ModelInfo.ContextLength;
        var reserved = Math.Min(_reservedAnswerTokens ?? generation.MaxNewTokens ?? context / 4, context - 1);
        var fitted = _trimmer.Fit(conversation, reserved, kept => FormatPrompt(kept, options));
        if (fitted.Dropped > 0)
        {
            ChatLog.DroppedOldestTurns(_logger, options?.ConversationId ?? "(stateless)", fitted.Dropped, fitted.PromptTokens, fitted.Budget, reserved, context);
        }

        return (GptPrompt.FromText(fitted.Prompt), generation, fitted.Messages, fitted.Dropped);
    }

    private void Remember(string? conversation, IReadOnlyList<ChatMessage> sent, ChatMessage reply)
    {
        if (conversation is null)
        {
            return;
        }

        lock (_conversationsGate)
        {
            if (!_conversations.ContainsKey(conversation))
            {
                _conversationOrder.Enqueue(conversation);
                while (_conversationOrder.Count > MaxConversations)
                {
                    _conversations.Remove(_conversationOrder.Dequeue());
                }
            }

            // What was sent (without the turns dropped to fit the context) and the reply: the next turn's prefix.
            _conversations[conversation] = [.. sent, reply];
        }
    }

    private GenerationOptions Start(ChatOptions? options)
    {
        if (options?.RawRepresentationFactory is not { } factory)
        {
            return new GenerationOptions();
        }

        return factory(this) switch
        {
            null => new GenerationOptions(),
            GenerationOptions raw => new GenerationOptions().WithDefaults(raw),
            var other => throw new NotSupportedException($"ChatOptions.RawRepresentationFactory returned {other.GetType().Name}; {nameof(GptChatClient)} accepts a {nameof(GenerationOptions)} or null."),
        };
    }

    private void Refuse(ChatOptions options)
    {
        static NotSupportedException Unsupported(string option, string why) =>
            new($"ChatOptions.{option} is not supported by {nameof(GptChatClient)}: {why}");

        if (options.Tools is { Count: > 0 })
        {
            throw Unsupported(nameof(ChatOptions.Tools), "the model has no tool calling.");
        }

        if (options.ToolMode is not null and not NoneChatToolMode)
        {
            throw Unsupported(nameof(ChatOptions.ToolMode), "the model has no tool calling; only ChatToolMode.None is supported.");
        }

        if (options.Reasoning is not null)
        {
            throw Unsupported(nameof(ChatOptions.Reasoning), "the model has no reasoning settings.");
        }

        if (options.AllowBackgroundResponses is true)
        {
            throw Unsupported(nameof(ChatOptions.AllowBackgroundResponses), "responses are generated while the caller waits.");
        }

        if (options.ContinuationToken is not null)
        {
            throw Unsupported(nameof(ChatOptions.ContinuationToken), "there are no background responses to continue.");
        }

        if (options.AdditionalProperties is { Count: > 0 } extra)
        {
            throw Unsupported(nameof(ChatOptions.AdditionalProperties), $"it has no meaning for '{string.Join("', '", extra.Keys)}'. Use RawRepresentationFactory to pass GenerationOptions.");
        }

        if (options.ModelId is { } model && !string.Equals(model, ModelId, StringComparison.OrdinalIgnoreCase))
        {
            throw Unsupported(nameof(ChatOptions.ModelId), $"this client serves '{ModelId}', not '{model}'.");
        }
    }
}
