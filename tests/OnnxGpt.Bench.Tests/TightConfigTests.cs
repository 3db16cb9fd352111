namespace OnnxGpt.Bench.Tests;

public sealed class TightConfigTests
{
    [Test]
    public void Profile_turns_on_onnx_runtime_profiling_with_the_prefix()
    {
        using var options = OrtGraph.CreateSessionOptions(2, new Dictionary<string, string> { [OrtGraph.ProfileKey] = "/tmp/onnxgpt-prof" });

        Assert.That(options.EnableProfiling, Is.True);
        Assert.That(options.ProfileOutputPathPrefix, Is.EqualTo("/tmp/onnxgpt-prof"));
    }

    [Test]
    public void A_session_with_profile_writes_its_profile_under_the_prefix()
    {
        var prefix = Path.Combine(Path.GetTempPath(), "onnxgpt-prof-" + Guid.NewGuid().ToString("N"));
        using var options = OrtGraph.CreateSessionOptions(1, new Dictionary<string, string> { [OrtGraph.ProfileKey] = prefix });
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare", "model.onnx"), options);

        var file = session.EndProfiling();
        try
        {
            Assert.That(file, Does.StartWith(prefix));
            Assert.That(File.Exists(file), Is.True);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void Without_profile_the_profiler_stays_off()
    {
        using var options = OrtGraph.CreateSessionOptions(2, new Dictionary<string, string> { [OrtGraph.MemoryPatternKey] = "0" });

        Assert.That(options.EnableProfiling, Is.False);
        Assert.That(options.EnableMemoryPattern, Is.False);
    }
}
