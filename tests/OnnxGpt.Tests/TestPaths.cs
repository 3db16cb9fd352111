namespace OnnxGpt.Tests;

/// <summary>Where the copied fixtures live in the test output folder.</summary>
internal static class TestPaths
{
    /// <summary>The embedded default model (copied from the repository's models/ folder).</summary>
    public static string TinyShakespeare => Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");

    /// <summary>A fixture folder under tests/OnnxGpt.Tests/fixtures.</summary>
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    /// <summary>A hub-layout model folder under tests/fixtures/hub (qwen3, llama3, gemma3, mistral).</summary>
    public static string Hub(string name) => Path.Combine(AppContext.BaseDirectory, "hub", name);

    /// <summary>Tiny Shakespeare, from tests/fixtures/data.</summary>
    public static string TinyShakespeareText => Path.Combine(AppContext.BaseDirectory, "data", "tinyshakespeare.txt");
}
