using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>A macro's parameters (with their default expressions) and body, as parsed.</summary>
internal sealed class JinjaMacroDefinition(string name, List<(string Name, JinjaExpr? Default)> parameters, List<JinjaStmt> body)
{
    public string Name { get; } = name;

    public List<(string Name, JinjaExpr? Default)> Parameters { get; } = parameters;

    public List<JinjaStmt> Body { get; } = body;
}

/// <summary>A macro bound to the scope it was defined in; calling it renders its body to a string.</summary>
internal sealed class JinjaMacro(JinjaMacroDefinition definition, JinjaScope closure) : IJinjaCallable
{
    public object? Call(JinjaRenderer renderer, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        var scope = new JinjaScope(closure);
        var parameters = definition.Parameters;
        var extraArgs = new List<object?>();
        for (var i = 0; i < args.Count; i++)
        {
            if (i < parameters.Count)
            {
                scope.Set(parameters[i].Name, args[i]);
            }
            else
            {
                extraArgs.Add(args[i]);
            }
        }

        var extraKwargs = new JinjaDict();
        if (kwargs is not null)
        {
            foreach (var (name, value) in kwargs)
            {
                if (name == "caller" || parameters.Exists(p => p.Name == name))
                {
                    scope.Set(name, value);
                }
                else
                {
                    extraKwargs[name] = value;
                }
            }
        }

        for (var i = args.Count; i < parameters.Count; i++)
        {
            var (name, fallback) = parameters[i];
            if (kwargs is null || !kwargs.Exists(k => k.Key == name))
            {
                scope.Set(name, fallback is null ? new JinjaUndefined($"'{name}' is undefined") : renderer.Guard(fallback, scope));
            }
        }

        scope.Set("varargs", extraArgs);
        scope.Set("kwargs", extraKwargs);
        var output = new StringBuilder();
        JinjaStmt.RenderAll(definition.Body, renderer, scope, output);
        return output.ToString();
    }
}
