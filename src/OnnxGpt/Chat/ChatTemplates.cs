namespace OnnxGpt.Chat;

/// <summary>Finds the chat template of a model: by name, or from the Jinja template its folder ships.</summary>
public static class ChatTemplates
{
    /// <summary>The names <see cref="FromName"/> knows.</summary>
    public static IReadOnlyList<string> Names { get; } = ["chatml", "llama2", "llama3", "phi3", "gemma", "mistral", "plain"];

    /// <summary>The template with the given name (case-insensitive; <c>-</c> and <c>_</c> are ignored, so <c>llama-3</c> works).</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <returns>The template.</returns>
    /// <exception cref="ArgumentException">The name is not known; the message lists the known ones.</exception>
    public static IChatTemplate FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Replace("-", string.Empty, StringComparison.Ordinal).Replace("_", string.Empty, StringComparison.Ordinal).ToUpperInvariant() switch
        {
            "CHATML" => new ChatMLTemplate(),
            "LLAMA2" => new Llama2ChatTemplate(),
            "LLAMA3" => new Llama3ChatTemplate(),
            "PHI3" => new Phi3ChatTemplate(),
            "GEMMA" => new GemmaChatTemplate(),
            "MISTRAL" => new MistralChatTemplate(),
            "PLAIN" => new PlainChatTemplate(),
            _ => throw new ArgumentException($"'{name}' is not a known chat template; use one of {string.Join(", ", Names)}, or set an IChatTemplate.", nameof(name)),
        };
    }

    /// <summary>
    /// Recognises a Hugging Face Jinja chat template by its distinctive markers: <c>&lt;|im_start|&gt;</c> (ChatML),
    /// <c>&lt;|start_header_id|&gt;</c> (Llama 3), <c>&lt;|user|&gt;</c> with <c>&lt;|end|&gt;</c> (Phi-3),
    /// <c>&lt;start_of_turn&gt;</c> (Gemma), <c>[INST]</c> with <c>&lt;&lt;SYS&gt;&gt;</c> (Llama 2), <c>[INST]</c> alone (Mistral).
    /// </summary>
    /// <param name="jinjaTemplate">The template's source, as in <c>tokenizer_config.json</c>'s <c>chat_template</c>.</param>
    /// <returns>The matching template, or null when none matches.</returns>
    public static IChatTemplate? Recognize(string? jinjaTemplate)
    {
        if (string.IsNullOrWhiteSpace(jinjaTemplate))
        {
            return null;
        }

        bool Has(string marker) => jinjaTemplate.Contains(marker, StringComparison.Ordinal);
        if (Has("<|im_start|>"))
        {
            return new ChatMLTemplate();
        }

        if (Has("<|start_header_id|>"))
        {
            return new Llama3ChatTemplate();
        }

        if (Has("<|user|>") && Has("<|end|>"))
        {
            return new Phi3ChatTemplate();
        }

        if (Has("<start_of_turn>"))
        {
            return new GemmaChatTemplate();
        }

        if (Has("[INST]"))
        {
            return Has("<<SYS>>") ? new Llama2ChatTemplate() : new MistralChatTemplate();
        }

        return null;
    }

    /// <summary>
    /// The chat template a model folder ships (<c>tokenizer_config.json</c>'s <c>chat_template</c>, a string or a list
    /// of named templates of which <c>default</c> is used and <c>tool_use</c> kept for requests with tools; else
    /// <c>chat_template.jinja</c> or <c>chat_template.json</c>), rendered by OnnxGpt's Jinja engine.
    /// </summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <returns>The template, or null when the folder has none.</returns>
    /// <exception cref="ModelLoadException">The template cannot be read or uses syntax the engine lacks (the message names the line, column and construct).</exception>
    public static IChatTemplate? FromModelDirectory(string modelDirectory) => JinjaChatTemplate.FromModelDirectory(modelDirectory);

    /// <summary>Like <see cref="FromModelDirectory"/>, falling back to <see cref="PlainChatTemplate"/>.</summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <returns>The template.</returns>
    public static IChatTemplate ForModelDirectory(string modelDirectory) => FromModelDirectory(modelDirectory) ?? new PlainChatTemplate();
}
