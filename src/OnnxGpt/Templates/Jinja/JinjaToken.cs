namespace OnnxGpt.Templates.Jinja;

internal enum JinjaTokenKind
{
    Text,
    VariableBegin,
    VariableEnd,
    BlockBegin,
    BlockEnd,
    Name,
    String,
    Integer,
    Float,
    Operator,
    End,
}

/// <summary>One token of a template; <see cref="Position"/> is its offset in the source, for error messages.</summary>
internal readonly record struct JinjaToken(JinjaTokenKind Kind, string Value, int Position, object? Literal = null)
{
    public bool Is(JinjaTokenKind kind, string value) => Kind == kind && Value == value;

    public bool IsName(string value) => Kind == JinjaTokenKind.Name && Value == value;

    public bool IsOperator(string value) => Kind == JinjaTokenKind.Operator && Value == value;
}
