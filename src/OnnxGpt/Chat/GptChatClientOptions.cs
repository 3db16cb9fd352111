using OnnxGpt.Generation;

namespace OnnxGpt.Chat;

/// <summary>
/// Settings of a <see cref="GptChatClient"/>. With <c>AddGpt</c>, configure them with
/// <c>.ConfigureChat(o => ...)</c> on its builder (or <c>services.Configure&lt;GptChatClientOptions&gt;(name, ...)</c>).
/// </summary>
public sealed class GptChatClientOptions
{
    /// <summary>
    /// The chat template. Null: <see cref="TemplateName"/> if set, else the model folder's own Jinja template
    /// (<see cref="JinjaChatTemplate"/>), else <see cref="PlainChatTemplate"/>.
    /// </summary>
    public IChatTemplate? ChatTemplate { get; set; }

    /// <summary>
    /// The chat template by name (one of <see cref="ChatTemplates.Names"/>), for configuration files.
    /// <see cref="ChatTemplate"/> wins when both are set.
    /// </summary>
    public string? TemplateName { get; set; }

    /// <summary>The model id the client reports and accepts in <c>ChatOptions.ModelId</c>. Null: the model folder's name.</summary>
    public string? ModelId { get; set; }

    /// <summary>
    /// Stop sequences used when a request sets none (the template's own are always added). <c>AddGpt</c> sets this
    /// to the application's <c>GptOptions.Generation.StopSequences</c>; a client over a <see cref="Generation.GptGenerator"/>
    /// takes them from its model. Null: none.
    /// </summary>
    public IList<string>? DefaultStopSequences { get; set; }

    /// <summary>
    /// Extra variables for a Jinja chat template, for every request (for example <c>enable_thinking = false</c> for
    /// Qwen3). A request's <c>ChatOptions.AdditionalProperties</c> add to and override them. Null: none.
    /// </summary>
    public IDictionary<string, object?>? TemplateVariables { get; set; }

    /// <summary>How the model writes tool calls. Null: recognised from the Jinja template (<see cref="JinjaChatTemplate.ToolCallFormat"/>).</summary>
    public ToolCallFormat? ToolCallFormat { get; set; }

    /// <summary>
    /// What happens when a conversation outgrows the model's context: <see cref="ContextOverflow.DropOldestTurns"/>
    /// (the default) or <see cref="ContextOverflow.Throw"/>.
    /// </summary>
    public ContextOverflow ContextOverflow { get; set; } = ContextOverflow.DropOldestTurns;

    /// <summary>
    /// Tokens of the context kept free for the answer when old turns are dropped. Null: the request's
    /// <c>MaxOutputTokens</c>, else a quarter of the context.
    /// </summary>
    public int? ReservedAnswerTokens { get; set; }

    /// <summary>Resolves the template these options choose for a model folder.</summary>
    internal IChatTemplate ResolveTemplate(string? modelDirectory) =>
        ChatTemplate
        ?? (TemplateName is { Length: > 0 } name ? ChatTemplates.FromName(name) : null)
        ?? (modelDirectory is not null ? ChatTemplates.FromModelDirectory(modelDirectory) : null)
        ?? new PlainChatTemplate();
}
