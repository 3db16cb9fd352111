namespace OnnxGpt.Templates.Jinja;

/// <summary>Jinja's <c>Undefined</c>: prints as nothing, is false, iterates as empty, and fails on attribute access.</summary>
internal sealed class JinjaUndefined
{
    public static readonly JinjaUndefined Instance = new(null);

    public JinjaUndefined(string? hint) => Hint = hint;

    /// <summary>What was looked up, for the error message ("'x' is undefined").</summary>
    public string? Hint { get; }

    public JinjaException Error() => new(Hint is null ? "a value is undefined" : Hint);

    public override string ToString() => string.Empty;
}

/// <summary>A Python tuple: renders with parentheses, otherwise a read-only list.</summary>
internal sealed class JinjaTuple(object?[] items)
{
    public object?[] Items { get; } = items;
}

/// <summary>The object <c>namespace()</c> returns: attributes that a <c>set</c> in an inner scope can change.</summary>
internal sealed class JinjaNamespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>A method looked up on a value but not yet called (<c>message.get</c>).</summary>
internal sealed class JinjaBoundMethod(object? target, string name)
{
    public object? Target { get; } = target;

    public string Name { get; } = name;
}

/// <summary>Something a template can call: a macro, a global function, a bound method.</summary>
internal interface IJinjaCallable
{
    object? Call(JinjaRenderer renderer, List<object?> args, List<KeyValuePair<string, object?>>? kwargs);
}

/// <summary>A global function (raise_exception, strftime_now, namespace, range, dict).</summary>
internal sealed class JinjaFunction(string name, Func<JinjaRenderer, List<object?>, List<KeyValuePair<string, object?>>?, object?> body) : IJinjaCallable
{
    public string Name { get; } = name;

    public object? Call(JinjaRenderer renderer, List<object?> args, List<KeyValuePair<string, object?>>? kwargs) => body(renderer, args, kwargs);
}
