namespace OnnxGpt.Onnx.Optimization;

/// <summary>The fusions <see cref="GraphOptimizer"/> knows, by name, in the order they run when all are asked for.</summary>
internal static class FusionRegistry
{
    /// <summary>Creates the fusions, in their running order (later fusions may consume earlier ones' operators).</summary>
    public static IReadOnlyList<IGraphFusion> CreateAll() =>
    [
        new AttentionFusion(),
        new SkipLayerNormFusion(),
        new SkipSimplifiedLayerNormFusion(),
        new BiasSkipLayerNormFusion(),
        new FastGeluFusion(),
        new BiasFastGeluFusion(),
        new FastGeluFusion(cubeAsPowOnly: true),
        new LmHeadFusion(LmHeadForm.TransB),
        new LmHeadFusion(LmHeadForm.Unpacked),
        new LmHeadFusion(LmHeadForm.Split2),
        new LmHeadFusion(LmHeadForm.Split4),
        new LogitsToKeepFusion(),
    ];

    /// <summary>The fusions that run only when named: alternative forms of one node (at most one of them applies).</summary>
    public static IReadOnlySet<string> OptIn { get; } =
        new HashSet<string>(["LmHeadTransB", "LmHeadUnpacked", "LmHeadSplit2", "LmHeadSplit4"], StringComparer.OrdinalIgnoreCase);

    /// <summary>The known fusion names, in running order.</summary>
    public static IReadOnlyList<string> Names => [.. CreateAll().Select(f => f.Name)];

    /// <summary>The fusions named in <paramref name="names"/> (all but the <see cref="OptIn"/> ones when empty), in the registry's running order.</summary>
    /// <exception cref="OptimizationException">A name is unknown; the message lists the known ones.</exception>
    public static IReadOnlyList<IGraphFusion> Select(IEnumerable<string> names)
    {
        var all = CreateAll();
        var wanted = names.ToList();
        if (wanted.Count == 0)
        {
            return [.. all.Where(f => !OptIn.Contains(f.Name))];
        }

        foreach (var name in wanted)
        {
            if (!all.Any(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new OptimizationException($"No fusion named '{name}'; the fusions are: {string.Join(", ", all.Select(f => f.Name))}.");
            }
        }

        return [.. all.Where(f => wanted.Any(w => string.Equals(f.Name, w, StringComparison.OrdinalIgnoreCase)))];
    }
}
