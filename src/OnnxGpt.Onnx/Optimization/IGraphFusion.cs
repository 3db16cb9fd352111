namespace OnnxGpt.Onnx.Optimization;

/// <summary>
/// One graph rewrite of <see cref="GraphOptimizer"/>: finds its pattern in the graph and replaces each match with the
/// fused operator. A fusion that finds nothing leaves the graph untouched and returns 0.
/// </summary>
internal interface IGraphFusion
{
    /// <summary>The name the CLI's <c>--fusion</c> and <see cref="OptimizeOptions.Fusions"/> use (for example <c>SkipLayerNormalization</c>).</summary>
    string Name { get; }

    /// <summary>Rewrites every match in <paramref name="graph"/>.</summary>
    /// <param name="graph">The graph, with its producer/consumer maps and constants.</param>
    /// <returns>How many matches were fused.</returns>
    int Apply(GraphContext graph);
}
