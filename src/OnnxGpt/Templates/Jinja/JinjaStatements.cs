using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>What a statement tells the enclosing loop: carry on, <c>break</c> or <c>continue</c>.</summary>
internal enum JinjaFlow
{
    Normal,
    Break,
    Continue,
}

/// <summary>A statement of the parsed template.</summary>
internal abstract class JinjaStmt(int position)
{
    public int Position { get; } = position;

    public abstract JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output);

    public static JinjaFlow RenderAll(List<JinjaStmt> body, JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        foreach (var statement in body)
        {
            var flow = statement.Render(renderer, scope, output);
            if (flow != JinjaFlow.Normal)
            {
                return flow;
            }
        }

        return JinjaFlow.Normal;
    }
}

internal sealed class TextStmt(int position, string text) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        output.Append(text);
        return JinjaFlow.Normal;
    }
}

internal sealed class OutputStmt(int position, JinjaExpr expression) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        PyOps.AppendStr(output, renderer.Guard(expression, scope));
        return JinjaFlow.Normal;
    }
}

internal sealed class IfStmt(int position, List<(JinjaExpr Test, List<JinjaStmt> Body)> branches, List<JinjaStmt>? otherwise) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        foreach (var (test, body) in branches)
        {
            if (PyOps.Truthy(renderer.Guard(test, scope)))
            {
                return RenderAll(body, renderer, scope, output);
            }
        }

        return otherwise is null ? JinjaFlow.Normal : RenderAll(otherwise, renderer, scope, output);
    }
}

internal sealed class ForStmt(int position, List<string> targets, JinjaExpr iterable, JinjaExpr? filter, List<JinjaStmt> body, List<JinjaStmt>? otherwise) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        var source = PyOps.Iterate(renderer.Guard(iterable, scope));
        var loopScope = new JinjaScope(scope);
        IReadOnlyList<object?> items = source;
        if (filter is not null)
        {
            var kept = new List<object?>(source.Count);
            foreach (var item in source)
            {
                Bind(loopScope, item);
                if (PyOps.Truthy(renderer.Guard(filter, loopScope)))
                {
                    kept.Add(item);
                }
            }

            items = kept;
        }

        if (items.Count == 0)
        {
            return otherwise is null ? JinjaFlow.Normal : RenderAll(otherwise, renderer, scope, output);
        }

        var loop = new JinjaLoop(items, 0);
        for (var i = 0; i < items.Count; i++)
        {
            // Jinja gives each iteration a fresh frame: a set in one iteration is not seen by the next.
            var iteration = new JinjaScope(scope);
            iteration.Set("loop", loop);
            loop.Index0 = i;
            Bind(iteration, items[i]);
            if (RenderAll(body, renderer, iteration, output) == JinjaFlow.Break)
            {
                break;
            }
        }

        return JinjaFlow.Normal;
    }

    private void Bind(JinjaScope scope, object? item)
    {
        if (targets.Count == 1)
        {
            scope.Set(targets[0], item);
            return;
        }

        var values = PyOps.Iterate(item);
        if (values.Count != targets.Count)
        {
            throw new JinjaException($"cannot unpack {values.Count} values into {targets.Count} loop variables");
        }

        for (var i = 0; i < targets.Count; i++)
        {
            scope.Set(targets[i], values[i]);
        }
    }
}

internal sealed class SetStmt(int position, List<string> targets, JinjaExpr value) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        var result = renderer.Guard(value, scope);
        if (targets.Count == 1)
        {
            scope.Set(targets[0], result);
            return JinjaFlow.Normal;
        }

        var values = PyOps.Iterate(result);
        if (values.Count != targets.Count)
        {
            throw new JinjaException($"cannot unpack {values.Count} values into {targets.Count} variables");
        }

        for (var i = 0; i < targets.Count; i++)
        {
            scope.Set(targets[i], values[i]);
        }

        return JinjaFlow.Normal;
    }
}

internal sealed class SetAttributeStmt(int position, string target, string attribute, JinjaExpr value) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        if (JinjaRenderer.Lookup(scope, target) is not JinjaNamespace ns)
        {
            throw new JinjaException($"cannot assign attribute on non-namespace object '{target}'");
        }

        ns.Attributes[attribute] = renderer.Guard(value, scope);
        return JinjaFlow.Normal;
    }
}

/// <summary><c>{% set name %}...{% endset %}</c>, optionally through filters.</summary>
internal sealed class BlockSetStmt(int position, string target, List<JinjaStmt> body, JinjaExpr? filter) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        var captured = new StringBuilder();
        RenderAll(body, renderer, scope, captured);
        scope.Set(target, FilterBlockStmt.ApplyFilter(renderer, scope, filter, captured.ToString()));
        return JinjaFlow.Normal;
    }
}

internal sealed class FilterBlockStmt(int position, JinjaExpr filter, List<JinjaStmt> body) : JinjaStmt(position)
{
    /// <summary>The name under which a filter chain over a block reads the block's text.</summary>
    public const string Slot = "\0block";

    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        var captured = new StringBuilder();
        RenderAll(body, renderer, scope, captured);
        PyOps.AppendStr(output, ApplyFilter(renderer, scope, filter, captured.ToString()));
        return JinjaFlow.Normal;
    }

    public static object? ApplyFilter(JinjaRenderer renderer, JinjaScope scope, JinjaExpr? filter, string text)
    {
        if (filter is null)
        {
            return text;
        }

        var slot = new JinjaScope(scope);
        slot.Set(Slot, text);
        return renderer.Guard(filter, slot);
    }
}

internal sealed class LoopControlStmt(int position, JinjaFlow flow) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output) => flow;
}

/// <summary>A block rendered as it is: transformers' <c>{% generation %}</c> only marks the assistant's text.</summary>
internal sealed class BodyStmt(int position, List<JinjaStmt> body) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output) => RenderAll(body, renderer, scope, output);
}

internal sealed class MacroStmt(int position, JinjaMacroDefinition definition) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        scope.Set(definition.Name, new JinjaMacro(definition, scope));
        return JinjaFlow.Normal;
    }
}

/// <summary><c>{% call(args) macro(...) %}body{% endcall %}</c>: the body becomes the macro's <c>caller()</c>.</summary>
internal sealed class CallBlockStmt(int position, CallExpr call, JinjaMacroDefinition caller) : JinjaStmt(position)
{
    public override JinjaFlow Render(JinjaRenderer renderer, JinjaScope scope, StringBuilder output)
    {
        var callee = call.Callee.Eval(renderer, scope);
        var (args, kwargs) = call.Arguments.Eval(renderer, scope);
        kwargs ??= [];
        kwargs.Add(new("caller", new JinjaMacro(caller, scope)));
        PyOps.AppendStr(output, renderer.Call(callee, args, kwargs, call.Callee));
        return JinjaFlow.Normal;
    }
}
