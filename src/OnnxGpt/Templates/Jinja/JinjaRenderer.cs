using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>
/// Renders a parsed template against variables. One renderer per render call: it holds the variables, the clock
/// for <c>strftime_now</c>, and turns errors into messages that carry the line and column of the failing expression.
/// </summary>
internal sealed class JinjaRenderer
{
    private static readonly Dictionary<string, object?> Builtins = new(StringComparer.Ordinal)
    {
        ["raise_exception"] = new JinjaFunction("raise_exception", static (_, args, _) =>
            throw new JinjaException(args.Count > 0 ? PyOps.Str(args[0]) : "the template raised an exception", raisedByTemplate: true)),
        ["strftime_now"] = new JinjaFunction("strftime_now", static (renderer, args, _) =>
            JinjaStrftime.Format(renderer._now(), args.Count > 0 ? PyOps.Str(args[0]) : throw new JinjaException("strftime_now() takes a format"))),
        ["namespace"] = new JinjaFunction("namespace", static (_, args, kwargs) =>
        {
            var ns = new JinjaNamespace();
            if (args.Count > 0 && args[0] is JinjaDict initial)
            {
                foreach (var (key, value) in initial)
                {
                    ns.Attributes[PyOps.Str(JinjaDict.FromKey(key))] = value;
                }
            }

            foreach (var (name, value) in kwargs ?? [])
            {
                ns.Attributes[name] = value;
            }

            return ns;
        }),
        ["dict"] = new JinjaFunction("dict", static (_, args, kwargs) =>
        {
            var dict = new JinjaDict();
            if (args.Count > 0 && args[0] is JinjaDict initial)
            {
                foreach (var (key, value) in initial)
                {
                    dict[key] = value;
                }
            }

            foreach (var (name, value) in kwargs ?? [])
            {
                dict[name] = value;
            }

            return dict;
        }),
        ["range"] = new JinjaFunction("range", static (_, args, _) =>
        {
            var (start, stop, step) = args.Count switch
            {
                1 => (0L, PyOps.ToLong(args[0]), 1L),
                2 => (PyOps.ToLong(args[0]), PyOps.ToLong(args[1]), 1L),
                3 => (PyOps.ToLong(args[0]), PyOps.ToLong(args[1]), PyOps.ToLong(args[2])),
                _ => throw new JinjaException("range() takes 1 to 3 arguments"),
            };
            if (step == 0)
            {
                throw new JinjaException("range() arg 3 must not be zero");
            }

            var result = new List<object?>();
            for (var i = start; step > 0 ? i < stop : i > stop; i += step)
            {
                result.Add(i);
            }

            return result;
        }),
    };

    private readonly JinjaSourceMap _map;
    private readonly Func<DateTimeOffset> _now;

    public JinjaRenderer(JinjaSourceMap map, Func<DateTimeOffset> now)
    {
        _map = map;
        _now = now;
    }

    public string Render(List<JinjaStmt> body, JinjaScope root, int capacity)
    {
        var output = new StringBuilder(capacity);
        JinjaStmt.RenderAll(body, this, root, output);
        return output.ToString();
    }

    public static object? Lookup(JinjaScope scope, string name) =>
        scope.TryGet(name, out var value) ? value
        : Builtins.TryGetValue(name, out var builtin) ? builtin
        : new JinjaUndefined($"'{name}' is undefined");

    /// <summary>Evaluates an expression; an error from inside it gets the expression's line and column.</summary>
    public object? Guard(JinjaExpr expression, JinjaScope scope)
    {
        try
        {
            return expression.Eval(this, scope);
        }
        catch (JinjaException ex) when (ex.Line == 0)
        {
            var (line, column) = _map.Locate(expression.Position);
            throw new JinjaException(ex.Reason, line, column, raisedByTemplate: ex.RaisedByTemplate);
        }
    }

    public object? Call(object? callee, List<object?> args, List<KeyValuePair<string, object?>>? kwargs, JinjaExpr calleeExpression) => callee switch
    {
        IJinjaCallable callable => callable.Call(this, args, kwargs),
        JinjaBoundMethod method => JinjaMethods.Call(method.Target, method.Name, args, kwargs),
        JinjaUndefined undefined => throw undefined.Error(),
        _ => throw new JinjaException($"'{PyOps.TypeName(callee)}' object is not callable" + (calleeExpression is NameExpr name ? $" ('{name.Name}')" : string.Empty)),
    };
}
