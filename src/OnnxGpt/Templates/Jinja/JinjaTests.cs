namespace OnnxGpt.Templates.Jinja;

/// <summary>Jinja's tests (<c>is defined</c>, <c>is string</c>, <c>is divisibleby 3</c>, ...), with Python's type rules.</summary>
internal static class JinjaTests
{
    private static readonly HashSet<string> Names = new(StringComparer.Ordinal)
    {
        "defined", "undefined", "none", "boolean", "false", "true", "integer", "float", "number", "string", "mapping",
        "iterable", "sequence", "callable", "odd", "even", "divisibleby", "eq", "equalto", "==", "ne", "!=", "lt", "<",
        "lessthan", "le", "<=", "gt", ">", "greaterthan", "ge", ">=", "in", "lower", "upper", "sameas", "escaped", "filter", "test",
    };

    public static bool Exists(string name) => Names.Contains(name);

    public static bool Apply(JinjaRenderer renderer, string name, object? value, List<object?> args, List<KeyValuePair<string, object?>>? kwargs)
    {
        _ = renderer;
        object? Arg() => JinjaArgs.Get(args, kwargs, 0, "other");
        return name switch
        {
            "defined" => value is not JinjaUndefined,
            "undefined" => value is JinjaUndefined,
            "none" => value is null,
            "boolean" => value is bool,
            "false" => value is false,
            "true" => value is true,
            "integer" => value is long,
            "float" => value is double,
            "number" => value is long or double or bool,
            "string" => value is string,
            "mapping" => value is JinjaDict,
            "iterable" => value is string or List<object?> or JinjaTuple or JinjaDict or JinjaUndefined,
            "sequence" => value is string or List<object?> or JinjaTuple or JinjaDict,
            "callable" => value is IJinjaCallable or JinjaBoundMethod,
            "odd" => PyOps.ToLong(value) % 2 != 0,
            "even" => PyOps.ToLong(value) % 2 == 0,
            "divisibleby" => PyOps.ToLong(value) % PyOps.ToLong(JinjaArgs.Get(args, kwargs, 0, "num")) == 0,
            "eq" or "equalto" or "==" => PyOps.AreEqual(value, Arg()),
            "ne" or "!=" => !PyOps.AreEqual(value, Arg()),
            "lt" or "<" or "lessthan" => PyOps.Compare(value, Arg()) < 0,
            "le" or "<=" => PyOps.Compare(value, Arg()) <= 0,
            "gt" or ">" or "greaterthan" => PyOps.Compare(value, Arg()) > 0,
            "ge" or ">=" => PyOps.Compare(value, Arg()) >= 0,
            "in" => PyOps.Contains(JinjaArgs.Get(args, kwargs, 0, "seq"), value),
            "lower" => value is string lower && !lower.Any(char.IsUpper),
            "upper" => value is string upper && !upper.Any(char.IsLower),
            "sameas" => ReferenceEquals(value, Arg()) || (value is null && Arg() is null) || (value is bool b && Arg() is bool c && b == c),
            "escaped" => false,
            "filter" => value is string filter && JinjaFilters.Exists(filter),
            "test" => value is string test && Exists(test),
            _ => throw new JinjaException($"no test named '{name}'"),
        };
    }
}
