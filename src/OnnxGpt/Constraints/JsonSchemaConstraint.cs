using System.Collections.Concurrent;
using System.Text.Json;

namespace OnnxGpt.Constraints;

/// <summary>
/// A JSON schema compiled into a grammar, once per schema (and framing): every request with the same schema
/// shares it, and each starts its own <see cref="ITokenConstraint"/> over the model's <see cref="TokenTrie"/>.
/// </summary>
internal sealed class JsonSchemaConstraint
{
    private const int MaxCached = 256;
    private static readonly ConcurrentDictionary<JsonOutputFrame, JsonSchemaConstraint> Compiled = new();

    private JsonSchemaConstraint(GrammarNode grammar)
    {
        Grammar = grammar;
    }

    /// <summary>The compiled grammar.</summary>
    public GrammarNode Grammar { get; }

    /// <summary>The compiled constraint for <paramref name="frame"/>, from the cache or compiled now.</summary>
    /// <param name="frame">The schema (null: any JSON value) and the literal text around it.</param>
    /// <param name="setting">The setting to name in errors.</param>
    /// <exception cref="ArgumentException">The schema is not JSON, or uses a keyword the constraint cannot produce; the message names it.</exception>
    public static JsonSchemaConstraint Get(JsonOutputFrame frame, string setting)
    {
        if (Compiled.TryGetValue(frame, out var known))
        {
            return known;
        }

        var constraint = new JsonSchemaConstraint(Compile(frame, setting));
        if (Compiled.Count >= MaxCached)
        {
            Compiled.Clear();
        }

        Compiled[frame] = constraint;
        return constraint;
    }

    /// <summary>Starts one request's constraint.</summary>
    /// <param name="trie">The model's vocabulary.</param>
    /// <param name="eosTokenIds">The tokens that may end the output once it is complete.</param>
    public ITokenConstraint Start(TokenTrie trie, IReadOnlyList<int> eosTokenIds) => new JsonTokenConstraint(Grammar, trie, eosTokenIds);

    /// <summary>A matcher over bytes, for checking text against the grammar.</summary>
    public JsonMatcher Matcher() => new(Grammar);

    private static GrammarNode Compile(JsonOutputFrame frame, string setting)
    {
        if (frame.Schema is null)
        {
            return SchemaCompiler.Compile(null, setting, frame.Prefix, frame.Suffix);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(frame.Schema);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"{setting} is not valid JSON: {ex.Message}", setting, ex);
        }

        using (document)
        {
            return SchemaCompiler.Compile(document.RootElement, setting, frame.Prefix, frame.Suffix);
        }
    }
}
