namespace OnnxGpt.GenAI;

/// <summary>
/// Per-request settings only onnxruntime-genai offers, passed to
/// <see cref="GenAIGenerator.StreamAsync(Generation.GptPrompt, Generation.GenerationOptions?, GenAIRequestOptions?, CancellationToken)"/>
/// beside the ordinary <see cref="Generation.GenerationOptions"/>.
/// </summary>
/// <remarks>
/// Constrained decoding (<see cref="JsonSchema"/>, <see cref="Regex"/>, <see cref="LarkGrammar"/>) uses
/// onnxruntime-genai's guidance (llguidance), which reads the model's <c>tokenizer.json</c>: the folder must have one.
/// At most one of the three may be set. Generation still ends at <see cref="Generation.GenerationOptions.MaxNewTokens"/>,
/// so leave enough room for the constrained output to complete.
/// </remarks>
public sealed class GenAIRequestOptions
{
    /// <summary>The LoRA adapter to run with (a name from <see cref="GenAIOptions.Adapters"/>); null: <see cref="GenAIOptions.DefaultAdapter"/>.</summary>
    public string? Adapter { get; set; }

    /// <summary>A JSON schema the output must follow (guidance type <c>json_schema</c>).</summary>
    public string? JsonSchema { get; set; }

    /// <summary>A regular expression the output must match (guidance type <c>regex</c>).</summary>
    public string? Regex { get; set; }

    /// <summary>A Lark grammar the output must follow (guidance type <c>lark_grammar</c>).</summary>
    public string? LarkGrammar { get; set; }

    /// <summary>The guidance type and data onnxruntime-genai receives, or null when no constraint is set.</summary>
    /// <exception cref="ArgumentException">More than one constraint is set, or one is empty.</exception>
    internal (string Type, string Data)? Guidance()
    {
        (string Type, string Data, string Name)[] set =
        [
            .. new (string Type, string? Data, string Name)[]
            {
                ("json_schema", JsonSchema, nameof(JsonSchema)),
                ("regex", Regex, nameof(Regex)),
                ("lark_grammar", LarkGrammar, nameof(LarkGrammar)),
            }
            .Where(g => g.Data is not null)
            .Select(g => (g.Type, g.Data!, g.Name)),
        ];

        if (set.Length > 1)
        {
            throw new ArgumentException($"Set at most one of GenAIRequestOptions.JsonSchema, Regex and LarkGrammar, not {string.Join(" and ", set.Select(s => s.Name))}.", set[1].Name);
        }

        if (set.Length == 0)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(set[0].Data))
        {
            throw new ArgumentException($"GenAIRequestOptions.{set[0].Name} is empty.", set[0].Name);
        }

        return (set[0].Type, set[0].Data);
    }
}
