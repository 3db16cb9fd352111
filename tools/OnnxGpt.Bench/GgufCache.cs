using OnnxGpt.Onnx.Gguf;

namespace OnnxGpt.Bench;

/// <summary>The GGUF files the benchmark writes beside a model (<c>gguf/model-TYPE.gguf</c>) from its float32 ONNX weights, rewritten when older than them.</summary>
internal static class GgufCache
{
    public static string PathFor(string modelDirectory, GgmlType type) =>
        Path.Combine(modelDirectory, "gguf", $"model-{type}.gguf");

    /// <summary>Writes the folder's GGUF of <paramref name="type"/> unless an up-to-date one exists; returns its path.</summary>
    public static string Ensure(string modelDirectory, GgmlType type, IProgress<string>? status, CancellationToken cancellationToken)
    {
        var path = PathFor(modelDirectory, type);
        var sources = new[] { "model.onnx", "model.onnx.data" }.Select(n => Path.Combine(modelDirectory, n)).Where(File.Exists).ToList();
        var newest = sources.Count == 0 ? DateTime.MinValue : sources.Max(File.GetLastWriteTimeUtc);
        if (File.Exists(path) && File.GetLastWriteTimeUtc(path) >= newest)
        {
            return path;
        }

        status?.Report($"Writing {Path.GetRelativePath(modelDirectory, path)} ({type}) from the ONNX weights");
        GgufConverter.Convert(modelDirectory, path, type, cancellationToken);
        return path;
    }
}
