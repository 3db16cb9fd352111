using Microsoft.Extensions.Logging;
using OnnxGpt.Onnx.Optimization;

namespace OnnxGpt.Models;

/// <summary>
/// The in-memory rewrite a graph gets at load (<see cref="Generation.GptOptions.OptimizeGraph"/>): today the
/// LogitsToKeep pass of <c>onnxgpt optimize</c>, which adds <c>num_logits_to_keep</c> so that a prompt's run scores
/// only its last position. It adds no weights, so the graph's external data is read where it is.
/// </summary>
internal static class GraphRewriter
{
    /// <summary>The passes applied at load, in order.</summary>
    public static IReadOnlyList<string> LoadFusions { get; } = ["LogitsToKeep"];

    /// <summary>
    /// Graph files above this size are loaded as they are: their weights are inline, and rewriting them in memory
    /// would hold the model's bytes twice while ONNX Runtime parses them (run <c>onnxgpt optimize</c> once instead).
    /// </summary>
    public const long MaxInlineGraphBytes = 64L << 20;

    /// <summary>The rewritten graph's bytes and the passes that changed it, or null when none did (load the file).</summary>
    public static (byte[] Graph, IReadOnlyList<string> Applied)? TryRewrite(string graphPath, string modelPath, ILogger logger) =>
        TryRewrite(graphPath, modelPath, logger, MaxInlineGraphBytes);

    /// <summary><see cref="TryRewrite(string, string, ILogger)"/> with another size limit (tests).</summary>
    internal static (byte[] Graph, IReadOnlyList<string> Applied)? TryRewrite(string graphPath, string modelPath, ILogger logger, long maxInlineGraphBytes)
    {
        long length;
        string? linked;
        try
        {
            length = new FileInfo(graphPath).Length;
            linked = LinkedAway(graphPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // ONNX Runtime then reports what is wrong with the file.
            Log.GraphNotRewritten(logger, modelPath, ex.Message);
            return null;
        }

        if (linked is not null)
        {
            Log.GraphNotRewritten(logger, modelPath, $"'{linked}' links outside the graph's folder (a Hugging Face cache snapshot), and ONNX Runtime reads the external data of a graph loaded from bytes only inside that folder");
            return null;
        }

        if (length > maxInlineGraphBytes)
        {
            Log.GraphNotRewritten(logger, modelPath, $"'{Path.GetFileName(graphPath)}' holds {length >> 20} MiB inline; rewrite it once with onnxgpt optimize --fusion LogitsToKeep");
            return null;
        }

        GraphRewrite rewrite;
        try
        {
            rewrite = GraphOptimizer.Rewrite(graphPath, LoadFusions);
        }
        catch (OptimizationException ex)
        {
            Log.GraphNotRewritten(logger, modelPath, ex.Message);
            return null;
        }

        if (rewrite.Graph is not { } graph)
        {
            Log.GraphNotRewritten(logger, modelPath, $"no pass matched: {string.Join(", ", LoadFusions)} needs a 'logits' output made by a MatMul with a constant weight, in a graph that does not take num_logits_to_keep yet");
            return null;
        }

        IReadOnlyList<string> applied = [.. rewrite.Fusions.Where(f => f.Count > 0).Select(f => f.Name)];
        Log.GraphRewritten(logger, modelPath, string.Join(", ", applied));
        return (graph, applied);
    }

    /// <summary>
    /// The name of a file beside the graph that may be its external data (its name starts with the graph's, as
    /// <c>model.onnx_data</c> does for <c>model.onnx</c>) and is a link into another folder, or null. ONNX Runtime
    /// resolves links when it checks that a graph's external data lies inside the folder it was given.
    /// </summary>
    private static string? LinkedAway(string graphPath)
    {
        var full = Path.GetFullPath(graphPath);
        var folder = Path.GetDirectoryName(full)!;
        var stem = Path.GetFileNameWithoutExtension(full);
        foreach (var file in Directory.EnumerateFiles(folder, stem + "*"))
        {
            if (string.Equals(file, full, StringComparison.Ordinal) || new FileInfo(file).LinkTarget is null)
            {
                continue;
            }

            if (File.ResolveLinkTarget(file, returnFinalTarget: true) is { } target
                && !string.Equals(Path.GetDirectoryName(target.FullName), folder, StringComparison.Ordinal))
            {
                return Path.GetFileName(file);
            }
        }

        return null;
    }
}
