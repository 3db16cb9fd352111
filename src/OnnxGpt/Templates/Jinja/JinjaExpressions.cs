namespace OnnxGpt.Templates.Jinja;

/// <summary>An expression of the parsed template; evaluated against a scope, never re-parsed.</summary>
internal abstract class JinjaExpr(int position)
{
    public int Position { get; } = position;

    public abstract object? Eval(JinjaRenderer renderer, JinjaScope scope);
}

internal sealed class ConstExpr(int position, object? value) : JinjaExpr(position)
{
    public object? Value { get; } = value;

    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) => Value;
}

internal sealed class NameExpr(int position, string name) : JinjaExpr(position)
{
    public string Name { get; } = name;

    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) => JinjaRenderer.Lookup(scope, Name);
}

internal sealed class AttrExpr(int position, JinjaExpr target, string name) : JinjaExpr(position)
{
    public JinjaExpr Target { get; } = target;

    public string Name { get; } = name;

    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) => PyOps.GetAttribute(Target.Eval(renderer, scope), Name);
}

internal sealed class ItemExpr(int position, JinjaExpr target, JinjaExpr key) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) => PyOps.GetItem(target.Eval(renderer, scope), key.Eval(renderer, scope));
}

internal sealed class SliceExpr(int position, JinjaExpr target, JinjaExpr? start, JinjaExpr? stop, JinjaExpr? step) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) =>
        PyOps.Slice(target.Eval(renderer, scope), start?.Eval(renderer, scope), stop?.Eval(renderer, scope), step?.Eval(renderer, scope));
}

/// <summary>Positional and keyword arguments of a call, filter or test.</summary>
internal sealed class JinjaArguments(List<JinjaExpr> positional, List<KeyValuePair<string, JinjaExpr>> keywords)
{
    public static readonly JinjaArguments None = new([], []);

    public List<JinjaExpr> Positional { get; } = positional;

    public List<KeyValuePair<string, JinjaExpr>> Keywords { get; } = keywords;

    public (List<object?> Args, List<KeyValuePair<string, object?>>? Kwargs) Eval(JinjaRenderer renderer, JinjaScope scope, object? first = null, bool hasFirst = false)
    {
        var args = new List<object?>(Positional.Count + (hasFirst ? 1 : 0));
        if (hasFirst)
        {
            args.Add(first);
        }

        foreach (var arg in Positional)
        {
            args.Add(arg.Eval(renderer, scope));
        }

        List<KeyValuePair<string, object?>>? kwargs = null;
        if (Keywords.Count > 0)
        {
            kwargs = new List<KeyValuePair<string, object?>>(Keywords.Count);
            foreach (var (name, value) in Keywords)
            {
                kwargs.Add(new(name, value.Eval(renderer, scope)));
            }
        }

        return (args, kwargs);
    }
}

internal sealed class CallExpr(int position, JinjaExpr callee, JinjaArguments arguments) : JinjaExpr(position)
{
    public JinjaExpr Callee { get; } = callee;

    public JinjaArguments Arguments { get; } = arguments;

    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var callee = Callee.Eval(renderer, scope);
        var (args, kwargs) = Arguments.Eval(renderer, scope);
        return renderer.Call(callee, args, kwargs, Callee);
    }
}

internal sealed class FilterExpr(int position, JinjaExpr input, string name, JinjaArguments arguments) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var value = input.Eval(renderer, scope);
        var (args, kwargs) = arguments.Eval(renderer, scope);
        return JinjaFilters.Apply(renderer, name, value, args, kwargs);
    }
}

internal sealed class TestExpr(int position, JinjaExpr input, string name, JinjaArguments arguments, bool negated) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var value = input.Eval(renderer, scope);
        var (args, kwargs) = arguments.Eval(renderer, scope);
        return JinjaTests.Apply(renderer, name, value, args, kwargs) != negated;
    }
}

internal sealed class NotExpr(int position, JinjaExpr operand) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) => !PyOps.Truthy(operand.Eval(renderer, scope));
}

internal sealed class NegateExpr(int position, JinjaExpr operand, bool negate) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var value = operand.Eval(renderer, scope);
        return negate ? PyOps.Negate(value) : value;
    }
}

internal sealed class BinaryExpr(int position, string op, JinjaExpr left, JinjaExpr right) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) => PyOps.Arithmetic(op, left.Eval(renderer, scope), right.Eval(renderer, scope));
}

internal sealed class AndExpr(int position, JinjaExpr left, JinjaExpr right) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var value = left.Eval(renderer, scope);
        return PyOps.Truthy(value) ? right.Eval(renderer, scope) : value;
    }
}

internal sealed class OrExpr(int position, JinjaExpr left, JinjaExpr right) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var value = left.Eval(renderer, scope);
        return PyOps.Truthy(value) ? value : right.Eval(renderer, scope);
    }
}

internal sealed class CompareExpr(int position, JinjaExpr first, List<(string Op, JinjaExpr Operand)> rest) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var left = first.Eval(renderer, scope);
        foreach (var (op, operand) in rest)
        {
            var right = operand.Eval(renderer, scope);
            var holds = op switch
            {
                "==" => PyOps.AreEqual(left, right),
                "!=" => !PyOps.AreEqual(left, right),
                "<" => PyOps.Compare(left, right) < 0,
                "<=" => PyOps.Compare(left, right) <= 0,
                ">" => PyOps.Compare(left, right) > 0,
                ">=" => PyOps.Compare(left, right) >= 0,
                "in" => PyOps.Contains(right, left),
                _ => !PyOps.Contains(right, left),
            };
            if (!holds)
            {
                return false;
            }

            left = right;
        }

        return true;
    }
}

internal sealed class ConcatExpr(int position, List<JinjaExpr> parts) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var builder = new System.Text.StringBuilder();
        foreach (var part in parts)
        {
            PyOps.AppendStr(builder, part.Eval(renderer, scope));
        }

        return builder.ToString();
    }
}

internal sealed class CondExpr(int position, JinjaExpr test, JinjaExpr then, JinjaExpr? otherwise) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope) =>
        PyOps.Truthy(test.Eval(renderer, scope)) ? then.Eval(renderer, scope)
        : otherwise is null ? new JinjaUndefined("the inline if expression evaluated to false and no else section was defined")
        : otherwise.Eval(renderer, scope);
}

internal sealed class ListExpr(int position, List<JinjaExpr> items) : JinjaExpr(position)
{
    public List<JinjaExpr> Items { get; } = items;

    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var list = new List<object?>(Items.Count);
        foreach (var item in Items)
        {
            list.Add(item.Eval(renderer, scope));
        }

        return list;
    }
}

internal sealed class TupleExpr(int position, List<JinjaExpr> items) : JinjaExpr(position)
{
    public List<JinjaExpr> Items { get; } = items;

    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var values = new object?[Items.Count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = Items[i].Eval(renderer, scope);
        }

        return new JinjaTuple(values);
    }
}

internal sealed class DictExpr(int position, List<(JinjaExpr Key, JinjaExpr Value)> entries) : JinjaExpr(position)
{
    public override object? Eval(JinjaRenderer renderer, JinjaScope scope)
    {
        var dict = new JinjaDict(entries.Count);
        foreach (var (key, value) in entries)
        {
            dict[JinjaDict.Key(key.Eval(renderer, scope))] = value.Eval(renderer, scope);
        }

        return dict;
    }
}
