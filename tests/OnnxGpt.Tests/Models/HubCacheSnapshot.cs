namespace OnnxGpt.Tests.Models;

/// <summary>
/// Hugging Face's cache layout for a hub fixture: <c>snapshots/rev/onnx/*</c> are links to content-addressed files in
/// <c>blobs/</c>, with config.json copied beside them.
/// </summary>
internal static class HubCacheSnapshot
{
    /// <summary>Lays out <paramref name="hub"/>'s qwen3 external-data graph as a snapshot under <paramref name="cache"/>.</summary>
    /// <returns>The snapshot folder (the model path).</returns>
    public static string CreateExternal(TempDirectory cache, string hub)
    {
        var blobs = Directory.CreateDirectory(cache.File("blobs")).FullName;
        var snapshot = Directory.CreateDirectory(Path.Combine(cache.Path, "snapshots", "rev", "onnx")).Parent!.FullName;
        File.Copy(Path.Combine(hub, "config.json"), Path.Combine(snapshot, "config.json"));
        foreach (var file in new[] { "model_external.onnx", "model_external.onnx_data" })
        {
            File.Copy(Path.Combine(hub, "onnx", file), Path.Combine(blobs, "sha-" + file));
            File.CreateSymbolicLink(Path.Combine(snapshot, "onnx", file), Path.Combine("..", "..", "..", "blobs", "sha-" + file));
        }

        return snapshot;
    }
}
