namespace OnnxGpt.Templates.Jinja;

/// <summary>Variables of one frame (the template, a loop body, a macro call), chained to the enclosing one.</summary>
internal sealed class JinjaScope(JinjaScope? parent)
{
    private Dictionary<string, object?>? _variables;

    public JinjaScope? Parent { get; } = parent;

    public bool TryGet(string name, out object? value)
    {
        for (var scope = this; scope is not null; scope = scope.Parent)
        {
            if (scope._variables is { } variables && variables.TryGetValue(name, out value))
            {
                return true;
            }
        }

        value = null;
        return false;
    }

    public void Set(string name, object? value) => (_variables ??= new Dictionary<string, object?>(StringComparer.Ordinal))[name] = value;
}
