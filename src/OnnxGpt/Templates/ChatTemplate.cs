using OnnxGpt.Templates.Jinja;

namespace OnnxGpt.Templates;

/// <summary>
/// A Hugging Face chat template (Jinja), parsed once and rendered as transformers' <c>apply_chat_template</c> renders
/// it: Jinja with <c>trim_blocks</c>, <c>lstrip_blocks</c> and loop controls, transformers' <c>tojson</c>,
/// <c>raise_exception</c> and <c>strftime_now</c>, and Python's semantics for values. Safe to render from several
/// threads at once.
/// </summary>
public sealed class ChatTemplate
{
    private readonly JinjaTemplate _template;

    private ChatTemplate(string source, JinjaTemplate template)
    {
        Source = source;
        _template = template;
    }

    /// <summary>The template's source text.</summary>
    public string Source { get; }

    /// <summary>Parses a template.</summary>
    /// <param name="source">The Jinja source, as in <c>tokenizer_config.json</c>'s <c>chat_template</c>.</param>
    /// <returns>The parsed template.</returns>
    /// <exception cref="ChatTemplateException">A syntax error or a construct the engine lacks; the message names the line, column and construct.</exception>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            return new ChatTemplate(source, JinjaTemplate.Parse(source));
        }
        catch (JinjaException ex)
        {
            throw Wrap(ex);
        }
    }

    /// <summary>
    /// Renders the template. Values may be strings, numbers, booleans, null, lists, dictionaries
    /// (<c>IDictionary&lt;string, object?&gt;</c>) and JSON (<see cref="System.Text.Json.JsonElement"/>,
    /// <see cref="System.Text.Json.Nodes.JsonNode"/>); JSON objects keep their key order.
    /// </summary>
    /// <param name="variables">The variables: <c>messages</c>, <c>tools</c>, <c>add_generation_prompt</c>, special tokens, extra keyword arguments.</param>
    /// <param name="clock">The clock for <c>strftime_now</c>; null is the system clock (local time, as Python's <c>datetime.now()</c>).</param>
    /// <returns>The rendered text.</returns>
    /// <exception cref="ChatTemplateException">Rendering failed; the message says where and why.</exception>
    public string Render(IEnumerable<KeyValuePair<string, object?>> variables, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        try
        {
            var values = variables.Select(pair => new KeyValuePair<string, object?>(pair.Key, JinjaValue.From(pair.Value)));
            return _template.Render(values, clock is null ? null : clock.GetLocalNow);
        }
        catch (JinjaException ex)
        {
            throw Wrap(ex);
        }
    }

    private static ChatTemplateException Wrap(JinjaException ex) =>
        new(ex.RaisedByTemplate ? ex.Reason : $"Chat template {(ex.IsSyntax ? "syntax error" : "error")} at {ex.Message}", ex.Line, ex.Column, ex.IsSyntax, ex.RaisedByTemplate, ex);
}
