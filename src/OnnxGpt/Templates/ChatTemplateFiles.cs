using System.Text.Json;

namespace OnnxGpt.Templates;

/// <summary>
/// The chat templates a model folder ships and the special tokens they see: <c>tokenizer_config.json</c>'s
/// <c>chat_template</c> (a string, or a list of <c>{name, template}</c> of which <c>default</c> and <c>tool_use</c> are
/// kept), else <c>chat_template.jinja</c>, else <c>chat_template.json</c>'s <c>chat_template</c>.
/// </summary>
internal sealed class ChatTemplateFiles
{
    private static readonly string[] SpecialTokenNames = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private ChatTemplateFiles(string defaultSource, string? toolUseSource, Dictionary<string, object?> specialTokens, string path)
    {
        DefaultSource = defaultSource;
        ToolUseSource = toolUseSource;
        SpecialTokens = specialTokens;
        Path = path;
    }

    /// <summary>The template used without tools (and with them when there is no <see cref="ToolUseSource"/>).</summary>
    public string DefaultSource { get; }

    /// <summary>The <c>tool_use</c> template of a named list, for requests with tools; null when the folder has none.</summary>
    public string? ToolUseSource { get; }

    /// <summary>transformers' <c>special_tokens_map</c>: the tokens <c>tokenizer_config.json</c> sets (absent ones stay undefined).</summary>
    public Dictionary<string, object?> SpecialTokens { get; }

    /// <summary>The file the template came from, for error messages.</summary>
    public string Path { get; }

    /// <summary>Reads a folder's templates; null when it ships none.</summary>
    /// <exception cref="ModelLoadException">A template file exists but cannot be read.</exception>
    public static ChatTemplateFiles? Read(string directory)
    {
        var configPath = System.IO.Path.Combine(directory, "tokenizer_config.json");
        var special = new Dictionary<string, object?>(StringComparer.Ordinal);
        string? defaultSource = null;
        string? toolUse = null;
        var source = configPath;
        try
        {
            if (File.Exists(configPath))
            {
                using var document = JsonDocument.Parse(File.ReadAllText(configPath));
                var root = document.RootElement;
                if (root.ValueKind == JsonValueKind.Object)
                {
                    ReadSpecialTokens(root, special);
                    if (root.TryGetProperty("chat_template", out var template))
                    {
                        (defaultSource, toolUse) = ReadTemplate(template);
                    }
                }
            }

            if (defaultSource is null)
            {
                var jinjaPath = System.IO.Path.Combine(directory, "chat_template.jinja");
                var jsonPath = System.IO.Path.Combine(directory, "chat_template.json");
                if (File.Exists(jinjaPath))
                {
                    defaultSource = File.ReadAllText(jinjaPath);
                    source = jinjaPath;
                }
                else if (File.Exists(jsonPath))
                {
                    using var document = JsonDocument.Parse(File.ReadAllText(jsonPath));
                    if (document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("chat_template", out var template))
                    {
                        (defaultSource, toolUse) = ReadTemplate(template);
                        source = jsonPath;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(directory, $"its chat template cannot be read from '{source}': {ex.Message}", ex);
        }

        return string.IsNullOrWhiteSpace(defaultSource) ? null : new ChatTemplateFiles(defaultSource, toolUse, special, source);
    }

    private static (string? Default, string? ToolUse) ReadTemplate(JsonElement template)
    {
        if (template.ValueKind == JsonValueKind.String)
        {
            return (template.GetString(), null);
        }

        if (template.ValueKind != JsonValueKind.Array)
        {
            return (null, null);
        }

        string? first = null;
        string? named = null;
        string? toolUse = null;
        foreach (var entry in template.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object
                || !entry.TryGetProperty("template", out var text) || text.ValueKind != JsonValueKind.String)
            {
                continue;
            }

            first ??= text.GetString();
            var name = entry.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
            if (name == "default")
            {
                named = text.GetString();
            }
            else if (name == "tool_use")
            {
                toolUse = text.GetString();
            }
        }

        return (named ?? first, toolUse);
    }

    private static void ReadSpecialTokens(JsonElement config, Dictionary<string, object?> special)
    {
        foreach (var name in SpecialTokenNames)
        {
            if (config.TryGetProperty(name, out var value) && TokenText(value) is { } text)
            {
                special[name] = text;
            }
        }

        if (config.TryGetProperty("additional_special_tokens", out var additional) && additional.ValueKind == JsonValueKind.Array)
        {
            special["additional_special_tokens"] = additional.EnumerateArray().Select(TokenText).Where(t => t is not null).Cast<object?>().ToList();
        }
    }

    // A token is a string, or an AddedToken object {"content": ...} in older configurations.
    private static string? TokenText(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Object when value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
        _ => null,
    };
}
