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
/// With the model folder's own Jinja template (<see cref="JinjaChatTemplate"/>), messages may hold text, reasoning,
/// <see cref="FunctionCallContent"/> and <see cref="FunctionResultContent"/>; <c>Tools</c> reach the template's
/// <c>tools</c>; <c>AdditionalProperties</c> (over <see cref="GptChatClientOptions.TemplateVariables"/>) are template
/// variables such as <c>enable_thinking</c>; and with tools and a <c>ToolMode</c> other than none the reply is parsed
/// for tool calls in the template's <see cref="ToolCallFormat"/>: calls become <see cref="FunctionCallContent"/> (streamed
/// once complete), text around them stays text, and the finish reason is <see cref="ChatFinishReason.ToolCalls"/>.
/// <see cref="ChatToolMode.RequireAny"/> and <see cref="ChatToolMode.RequireSpecific"/> constrain the reply to one call
/// of an allowed tool whose arguments match its parameter schema, between the format's markers (forced as single tokens
/// where the vocabulary has them); generation ends after the call. <see cref="ChatToolMode.None"/> keeps the tools in
/// the template, does not parse the reply, and bans the format's opening marker where it is a single token.
/// </para>
/// <para>
/// What the model cannot honour is refused with <see cref="NotSupportedException"/> naming the option, never ignored:
/// a required <c>ToolMode</c> with a built-in template or one whose tool-call format is unknown, <c>Tools</c> and <c>AdditionalProperties</c> with a built-in template, <c>Reasoning</c>,
/// <c>AllowBackgroundResponses</c>, <c>ContinuationToken</c>, and content a template cannot render. Settings out of range throw <see cref="ArgumentOutOfRangeException"/> naming the
/// <see cref="ChatOptions"/> property. Cancellation throws an <see cref="OperationCanceledException"/> (a
/// <see cref="GenerationCanceledException"/> once generation has started).
/// </para>
/// <para>
/// With <c>ChatOptions.ConversationId</c> the client is stateful, as Microsoft.Extensions.AI describes: it keeps the
/// conversation's messages, so each call sends only the new ones, and the model keeps the conversation's KV cache
/// (<see cref="GenerationOptions.ConversationId"/>), so a turn runs only the tokens it adds. The response carries the
/// same id. The client keeps as many conversations' messages as the model keeps caches
/// (<see cref="GptOptions.MaxKeptConversations"/> of the generator's options, 16 for a generator without any), the
/// least recently used forgotten first: the same policy as the caches (0 keeps none: each call must then send the
/// whole conversation).
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
    /// <summary>
    /// The key in <see cref="ChatResponse.AdditionalProperties"/> (and the last <see cref="ChatResponseUpdate"/>'s) of
    /// the number of oldest messages dropped to fit the context; absent when none were.
    /// </summary>
    public const string DroppedMessagesProperty = "onnxgpt.dropped_messages";

    private readonly IGptGenerator _generator;
    private readonly IList<string>? _defaultStops;
    private readonly ToolCallFormat _toolCallFormat;
    private readonly Dictionary<string, object?>? _templateVariables;
    private readonly ConversationStore<ChatMessage[]> _conversations;
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
        _conversations = new ConversationStore<ChatMessage[]>((generator.GetService(typeof(GptOptions)) as GptOptions ?? new GptOptions()).MaxKeptConversations);
        _trimmer = options.ContextOverflow == ContextOverflow.DropOldestTurns && TokenizerOf(generator) is { } tokenizer && generator.ModelInfo.ContextLength > 0
            ? new ConversationTrimmer(tokenizer, generator.ModelInfo.ContextLength)
            : null;
        _logger = loggerFactory?.CreateLogger<GptChatClient>() ?? (ILogger)NullLogger.Instance;
        var directory = ModelDirectory(generator.ModelInfo);
        Template = options.ResolveTemplate(directory);
        _toolCallFormat = options.ToolCallFormat ?? (Template as JinjaChatTemplate)?.ToolCallFormat ?? ToolCallFormat.None;
        _templateVariables = options.TemplateVariables is { Count: > 0 } variables ? new Dictionary<string, object?>(variables, StringComparer.Ordinal) : null;
        ModelId = options.ModelId ?? (directory is null ? null : Path.GetFileName(directory)) ?? "onnxgpt";
        _defaultStops = options.DefaultStopSequences ?? (generator as GptGenerator)?.Model.Options.Generation?.StopSequences;
        Metadata = new ChatClientMetadata("OnnxGpt", directory is null ? null : new Uri(Path.GetFullPath(directory)), ModelId);
    }

    /// <summary>The model's id: the name of its folder, unless <see cref="GptChatClientOptions.ModelId"/> sets another.</summary>
    public string ModelId { get; }

    /// <summary>The chat template in use.</summary>
    public IChatTemplate Template { get; }

    /// <summary>How the model's tool calls are parsed (<see cref="ToolCallFormat.None"/>: they are not).</summary>
    public ToolCallFormat ToolCallFormat => _toolCallFormat;

    /// <summary>Describes this client: provider <c>OnnxGpt</c>, the model folder, and <see cref="ModelId"/>.</summary>
    public ChatClientMetadata Metadata { get; }

    /// <summary>The generator behind this client.</summary>
    public IGptGenerator Generator => _generator;

    /// <summary>Renders a conversation as the prompt this client would send to the model.</summary>
    /// <param name="messages">The conversation.</param>
    /// <param name="options">The request's options: its <c>Instructions</c> are rendered as a leading system message; with a
    /// Jinja template its <c>Tools</c> reach the template's <c>tools</c> and its <c>AdditionalProperties</c> are template variables.</param>
    /// <param name="addGenerationPrompt">Whether to end with the opening of an assistant turn (true for a request).</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="NotSupportedException">A message holds content the template cannot render, or a role it has no place for.</exception>
    /// <exception cref="Templates.ChatTemplateException">The model's Jinja template failed, for example its own check that roles alternate.</exception>
    public string FormatPrompt(IEnumerable<ChatMessage> messages, ChatOptions? options = null, bool addGenerationPrompt = true)
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
            conversation.Add(message);
        }

        if (conversation.Count == 0)
        {
            throw new ArgumentException("The conversation has no messages.", nameof(messages));
        }

        if (Template is JinjaChatTemplate jinja)
        {
            return jinja.Format(conversation, addGenerationPrompt, options?.Tools, TemplateVariables(options));
        }

        foreach (var message in conversation)
        {
            foreach (var content in message.Contents)
            {
                if (content is not TextContent)
                {
                    throw new NotSupportedException($"A {message.Role} message holds {content.GetType().Name}; the '{Template.Name}' chat template renders text content only (function calls and results need the model folder's own Jinja template).");
                }
            }
        }

        return Template.Format(conversation, addGenerationPrompt);
    }

    private Dictionary<string, object?>? TemplateVariables(ChatOptions? options)
    {
        if (options?.AdditionalProperties is not { Count: > 0 } extra)
        {
            return _templateVariables;
        }

        var variables = _templateVariables is null ? new Dictionary<string, object?>(StringComparer.Ordinal) : new Dictionary<string, object?>(_templateVariables, StringComparer.Ordinal);
        foreach (var (name, value) in extra)
        {
            variables[name] = value;
        }

        return variables;
    }

    /// <summary>Whether this request's reply is parsed for tool calls: it has tools, a mode other than none, and a known format.</summary>
    private bool ParsesToolCalls(ChatOptions? options) =>
        _toolCallFormat != ToolCallFormat.None && options?.Tools is { Count: > 0 } && options.ToolMode is not NoneChatToolMode;

    private List<AIContent> ReplyContents(string text, bool parse)
    {
        var contents = parse ? ToolCallParser.Parse(text, _toolCallFormat) : [];
        if (contents.Count == 0)
        {
            contents.Add(new TextContent(text));
        }

        return contents;
    }

    // A Jinja template renders the special tokens (bos included) itself; the built-in ones leave bos to the tokenizer.
    private GptPrompt Prompt(string text) => Template is JinjaChatTemplate ? GptPrompt.FromText(text, addSpecialTokens: false) : GptPrompt.FromText(text);

    /// <summary>Maps chat options onto generation options (see the class remarks), validating them.</summary>
    /// <param name="options">The chat options; null gives default generation options (plus the template's stop text).</param>
    /// <returns>The generation options.</returns>
    /// <exception cref="NotSupportedException">An option cannot be honoured; the message names it.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range; the exception names it.</exception>
    /// <exception cref="ArgumentException">A required <c>ToolMode</c> names a tool <c>Tools</c> lacks, or a tool's parameter schema uses a keyword the constraint lacks; the exception names the option.</exception>
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

            ToolModeConstraint(options, generation);
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

    /// <summary>
    /// A required tool mode constrains the reply to one call of an allowed tool (<see cref="RequiredToolCall"/>; it takes
    /// precedence over <c>ResponseFormat</c>). <see cref="ChatToolMode.None"/> bans the format's opening marker where it
    /// is a single token, so the model cannot start a call.
    /// </summary>
    private void ToolModeConstraint(ChatOptions options, GenerationOptions generation)
    {
        if (options.ToolMode is RequiredChatToolMode required)
        {
            var frame = RequiredToolCall.Frame(_toolCallFormat, options.Tools ?? [], required);
            try
            {
                Constraints.JsonSchemaConstraint.Get(frame, "ChatOptions.Tools");
            }
            catch (ArgumentException ex)
            {
                var message = ex.ParamName is { } name ? ex.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : ex.Message;
                throw Invalid(nameof(ChatOptions.Tools), $"{message} The parameter schema of a required tool must fit constrained output.");
            }

            generation.FramedJson = frame;
            return;
        }

        if (options.ToolMode is NoneChatToolMode && options.Tools is { Count: > 0 } && ToolCallParser.OpeningMarker(_toolCallFormat) is { } marker
            && TokenizerOf(_generator) is { } tokenizer)
        {
            var (ids, rest) = Constraints.FramedTokenConstraint.LeadingMarkers(tokenizer, marker);
            if (ids.Length == 1 && rest.Length == 0)
            {
                generation.BannedTokenSequences = [.. generation.BannedTokenSequences ?? [], [ids[0]]];
            }
        }
    }

    /// <inheritdoc />
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (prompt, generation, sent, dropped) = Prepare(messages, options);
        var created = DateTimeOffset.UtcNow;
        var result = await _generator.GenerateAsync(prompt, generation, cancellationToken).ConfigureAwait(false);
        var id = NewId();
        var contents = ReplyContents(result.Text, ParsesToolCalls(options));
        var calls = contents.Exists(c => c is FunctionCallContent);
        var reply = new ChatMessage(ChatRole.Assistant, contents) { MessageId = id, CreatedAt = created };
        Remember(options?.ConversationId, sent, reply);
        return new ChatResponse(reply)
        {
            AdditionalProperties = Dropped(dropped),
            ConversationId = options?.ConversationId,
            ResponseId = id,
            ModelId = ModelId,
            CreatedAt = created,
            FinishReason = calls ? ChatFinishReason.ToolCalls : Map(result.FinishReason),
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
        var parse = ParsesToolCalls(options);

        // From a call's opening marker on, text is buffered and parsed into FunctionCallContent when the reply ends.
        var calls = parse ? new ToolCallStream(_toolCallFormat) : null;
        await foreach (var token in _generator.StreamAsync(prompt, generation, cancellationToken).ConfigureAwait(false))
        {
            var text = calls is null ? token.Text : calls.Append(token.Text);
            if (token.Result is { } result)
            {
                Remember(options?.ConversationId, sent, new ChatMessage(ChatRole.Assistant, ReplyContents(result.Text, parse)) { MessageId = id, CreatedAt = created });
                var contents = new List<AIContent>(3);
                if (text.Length > 0)
                {
                    contents.Add(new TextContent(text));
                }

                if (calls is not null)
                {
                    contents.AddRange(ToolCallParser.Parse(calls.TakeRest(), _toolCallFormat));
                }

                var called = contents.Exists(c => c is FunctionCallContent);
                contents.Add(new UsageContent(Usage(result)));
                yield return new ChatResponseUpdate(ChatRole.Assistant, contents)
                {
                    ConversationId = options?.ConversationId,
                    ResponseId = id,
                    MessageId = id,
                    ModelId = ModelId,
                    CreatedAt = created,
                    FinishReason = called ? ChatFinishReason.ToolCalls : Map(result.FinishReason),
                    RawRepresentation = token,
                    AdditionalProperties = Dropped(dropped),
                };
                yield break;
            }

            if (text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, text)
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

        // A hub-layout folder keeps its graphs under onnx/ and its tokenizer files (and template) at the top.
        if (!string.IsNullOrEmpty(info.ModelPath) && Directory.Exists(info.ModelPath))
        {
            return Path.TrimEndingDirectorySeparator(info.ModelPath);
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
            if (_conversations.Peek(id) is { } kept)
            {
                conversation.InsertRange(0, kept);
            }

            generation.ConversationId = id;
        }

        if (_trimmer is null)
        {
            return (Prompt(FormatPrompt(conversation, options)), generation, conversation, 0);
        }

        // Render, measure, drop the oldest turns, re-render: a step around the template, whichever it is.
        var context = _generator.ModelInfo.ContextLength;
        var reserved = Math.Min(_reservedAnswerTokens ?? generation.MaxNewTokens ?? context / 4, context - 1);
        var fitted = _trimmer.Fit(conversation, reserved, kept => FormatPrompt(kept, options));
        if (fitted.Dropped > 0)
        {
            ChatLog.DroppedOldestTurns(_logger, options?.ConversationId ?? "(stateless)", fitted.Dropped, fitted.PromptTokens, fitted.Budget, reserved, context);
        }

        return (Prompt(fitted.Prompt), generation, fitted.Messages, fitted.Dropped);
    }

    private void Remember(string? conversation, IReadOnlyList<ChatMessage> sent, ChatMessage reply)
    {
        if (conversation is null)
        {
            return;
        }

        // What was sent (without the turns dropped to fit the context) and the reply: the next turn's prefix.
        _conversations.Put(conversation, [.. sent, reply]);
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

        var jinja = Template is JinjaChatTemplate;
        if (options.Tools is { Count: > 0 } && !jinja)
        {
            throw Unsupported(nameof(ChatOptions.Tools), $"the '{Template.Name}' chat template has no place for tools; tools need the model folder's own Jinja chat template.");
        }

        if (options.ToolMode is RequiredChatToolMode && !jinja)
        {
            throw Unsupported(nameof(ChatOptions.ToolMode), $"requiring a tool call needs the model folder's own Jinja chat template; the '{Template.Name}' chat template has no tools.");
        }

        if (options.ToolMode is RequiredChatToolMode && jinja && _toolCallFormat == ToolCallFormat.None)
        {
            throw Unsupported(nameof(ChatOptions.ToolMode), "requiring a tool call needs to know how the model writes one, and its chat template matches no known tool-call format; set GptChatClientOptions.ToolCallFormat, or use ChatToolMode.Auto.");
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

        if (options.AdditionalProperties is { Count: > 0 } extra && !jinja)
        {
            throw Unsupported(nameof(ChatOptions.AdditionalProperties), $"it has no meaning for '{string.Join("', '", extra.Keys)}'. With the model folder's own Jinja template they are template variables; use RawRepresentationFactory to pass GenerationOptions.");
        }

        if (options.ModelId is { } model && !string.Equals(model, ModelId, StringComparison.OrdinalIgnoreCase))
        {
            throw Unsupported(nameof(ChatOptions.ModelId), $"this client serves '{ModelId}', not '{model}'.");
        }
    }
}
