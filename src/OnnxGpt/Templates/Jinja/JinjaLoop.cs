namespace OnnxGpt.Templates.Jinja;

/// <summary>The <c>loop</c> variable of a <c>for</c> block.</summary>
internal sealed class JinjaLoop(IReadOnlyList<object?> items, int depth0)
{
    public int Index0 { get; set; }

    public object? Get(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(items.Count - Index0),
        "revindex0" => (long)(items.Count - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == items.Count - 1,
        "length" => (long)items.Count,
        "depth" => (long)(depth0 + 1),
        "depth0" => (long)depth0,
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new JinjaUndefined("there is no previous item"),
        "nextitem" => Index0 + 1 < items.Count ? items[Index0 + 1] : new JinjaUndefined("there is no next item"),
        "cycle" => new JinjaBoundMethod(this, "cycle"),
        _ => new JinjaUndefined($"'LoopContext' has no attribute '{name}'"),
    };

    public object? Cycle(List<object?> args) => args.Count == 0
        ? throw new JinjaException("no items for cycling given")
        : args[Index0 % args.Count];
}
