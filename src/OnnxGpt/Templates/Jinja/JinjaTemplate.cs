namespace OnnxGpt.Templates.Jinja;

/// <summary>A template parsed once; <see cref="Render"/> is safe to call from several threads at once.</summary>
internal sealed class JinjaTemplate
{
    private readonly List<JinjaStmt> _body;
    private readonly JinjaSourceMap _map;
    private int _lastLength = 256;

    private JinjaTemplate(List<JinjaStmt> body, JinjaSourceMap map)
    {
        _body = body;
        _map = map;
    }

    /// <summary>Parses a template.</summary>
    /// <exception cref="JinjaException">The template has a syntax error or a construct this engine lacks.</exception>
    public static JinjaTemplate Parse(string source)
    {
        var normalized = JinjaLexer.Normalize(source);
        return new JinjaTemplate(JinjaParser.Parse(normalized), new JinjaSourceMap(normalized));
    }

    /// <summary>Renders with the given variables (already Jinja values, see <see cref="JinjaValue.From"/>).</summary>
    /// <exception cref="JinjaException">Rendering failed (an undefined value used, <c>raise_exception</c>, a type error).</exception>
    public string Render(IEnumerable<KeyValuePair<string, object?>> variables, Func<DateTimeOffset>? now = null)
    {
        var root = new JinjaScope(null);
        foreach (var (name, value) in variables)
        {
            root.Set(name, value);
        }

        var renderer = new JinjaRenderer(_map, now ?? (() => DateTimeOffset.Now));
        var text = renderer.Render(_body, root, _lastLength + 64);
        _lastLength = text.Length;
        return text;
    }
}
