using Microsoft.Extensions.AI;
using OnnxGpt.Templates;

namespace OnnxGpt.Chat;

/// <summary>
/// The model's own Jinja chat template (<c>tokenizer_config.json</c>'s <c>chat_template</c>, or
/// <c>chat_template.jinja</c>), rendered as transformers' <c>apply_chat_template</c> renders it, with the folder's special
/// tokens, tools and extra variables such as <c>enable_thinking</c>. The rendered text holds its special tokens (bos
/// included), so <see cref="GptChatClient"/> tokenizes it without adding any.
/// </summary>
public sealed class JinjaChatTemplate : IChatTemplate
{
    private readonly IReadOnlyDictionary<string, object?> _specialTokens;

    private JinjaChatTemplate(ChatTemplate template, ChatTemplate? toolUse, IReadOnlyDictionary<string, object?> specialTokens)
    {
        Template = template;
        ToolUseTemplate = toolUse;
        _specialTokens = specialTokens;
        StopSequences = ChatTemplates.Recognize(template.Source)?.StopSequences ?? [];
        ToolCallFormat = DetectToolCallFormat(toolUse?.Source ?? template.Source);
    }

    /// <summary>Always <c>jinja</c>.</summary>
    public string Name => "jinja";

    /// <summary>Text that ends the assistant's turn, for the formats <see cref="ChatTemplates.Recognize"/> knows; the model's eos tokens end it too.</summary>
    public IReadOnlyList<string> StopSequences { get; }

    /// <summary>The template used without tools.</summary>
    public ChatTemplate Template { get; }

    /// <summary>The folder's <c>tool_use</c> template, used when a request has tools; null when it has none.</summary>
    public ChatTemplate? ToolUseTemplate { get; }

    /// <summary>How the model writes tool calls, recognised from the template's markers.</summary>
    public ToolCallFormat ToolCallFormat { get; }

    /// <summary>Parses a template.</summary>
    /// <param name="source">The Jinja source.</param>
    /// <param name="specialTokens">Variables such as <c>bos_token</c> and <c>eos_token</c>; null: none.</param>
    /// <param name="toolUseSource">A second template for requests with tools; null: none.</param>
    /// <returns>The template.</returns>
    /// <exception cref="ChatTemplateException">The source cannot be parsed; the message names the line, column and construct.</exception>
    public static JinjaChatTemplate Create(string source, IReadOnlyDictionary<string, object?>? specialTokens = null, string? toolUseSource = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new JinjaChatTemplate(ChatTemplate.Parse(source), toolUseSource is null ? null : ChatTemplate.Parse(toolUseSource), specialTokens ?? new Dictionary<string, object?>());
    }

    /// <summary>The template a model folder ships, with its special tokens; null when it ships none.</summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <returns>The template, or null.</returns>
    /// <exception cref="ModelLoadException">The template cannot be read or parsed; the message names the file, line, column and construct.</exception>
    public static JinjaChatTemplate? FromModelDirectory(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        if (ChatTemplateFiles.Read(modelDirectory) is not { } files)
        {
            return null;
        }

        try
        {
            return Create(files.DefaultSource, files.SpecialTokens, files.ToolUseSource);
        }
        catch (ChatTemplateException ex)
        {
            throw new ModelLoadException(modelDirectory, $"its chat template ('{files.Path}') uses what OnnxGpt's template engine cannot parse: {ex.Message}. Set GptChatClientOptions.TemplateName or ChatTemplate to use another.", ex);
        }
    }

    /// <summary>Renders a conversation without tools.</summary>
    /// <param name="messages">The messages, oldest first.</param>
    /// <param name="addGenerationPrompt">Whether to end with the opening of an assistant turn.</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="ChatTemplateException">The template failed (for example its own check that roles alternate).</exception>
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => Format(messages, addGenerationPrompt, null, null);

    /// <summary>Renders a conversation with tools and extra template variables.</summary>
    /// <param name="messages">The messages, oldest first: text, tool calls (<see cref="FunctionCallContent"/>), tool results (<see cref="FunctionResultContent"/>) and reasoning.</param>
    /// <param name="addGenerationPrompt">Whether to end with the opening of an assistant turn.</param>
    /// <param name="tools">The tools the template describes to the model; null or empty: none.</param>
    /// <param name="variables">Extra variables (for example <c>enable_thinking</c>); they override the special tokens.</param>
    /// <returns>The prompt text.</returns>
    /// <exception cref="ChatTemplateException">The template failed.</exception>
    /// <exception cref="NotSupportedException">A message holds content the template cannot be given (images, files).</exception>
    public string Format(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, IList<AITool>? tools, IEnumerable<KeyValuePair<string, object?>>? variables)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var toolList = ChatMessageMapper.Tools(tools);
        var values = new Dictionary<string, object?>(_specialTokens, StringComparer.Ordinal)
        {
            ["messages"] = ChatMessageMapper.Messages(messages),
            ["tools"] = toolList,
            ["documents"] = null,
            ["add_generation_prompt"] = addGenerationPrompt,
        };
        foreach (var (name, value) in variables ?? [])
        {
            values[name] = value;
        }

        var template = toolList is not null && ToolUseTemplate is not null ? ToolUseTemplate : Template;
        return template.Render(values);
    }

    /// <summary>Recognises the tool-call format a template teaches the model.</summary>
    /// <param name="source">The template's source.</param>
    /// <returns>The format, or <see cref="ToolCallFormat.None"/>.</returns>
    public static ToolCallFormat DetectToolCallFormat(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return source.Contains("<tool_call>", StringComparison.Ordinal) ? ToolCallFormat.Hermes
            : source.Contains("[TOOL_CALLS]", StringComparison.Ordinal) ? ToolCallFormat.Mistral
            : source.Contains("<|tool_call|>", StringComparison.Ordinal) ? ToolCallFormat.Phi4Mini
            : source.Contains("<|python_tag|>", StringComparison.Ordinal) || (source.Contains("<|start_header_id|>", StringComparison.Ordinal) && source.Contains("\"parameters\"", StringComparison.Ordinal)) ? ToolCallFormat.Llama3Json
            : ToolCallFormat.None;
    }
}
