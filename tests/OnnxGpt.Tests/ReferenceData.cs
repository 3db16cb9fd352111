using System.Text.Json;

namespace OnnxGpt.Tests;

/// <summary>Reads a fixture's reference.json (outputs produced by Hugging Face transformers).</summary>
public static class ReferenceData
{
    public sealed record GreedyCase(string Model, string Name, string? Prompt, int[] PromptIds, int[] GreedyIds)
    {
        public override string ToString() => $"{Model}/{Name}";
    }

    public static JsonDocument Load(string modelDirectory) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(modelDirectory, "reference.json")));

    public static IEnumerable<GreedyCase> Greedy(string modelName, string modelDirectory)
    {
        using var doc = Load(modelDirectory);
        foreach (var c in doc.RootElement.GetProperty("greedy").EnumerateObject())
        {
            var prompt = c.Value.TryGetProperty("prompt", out var p) ? p.GetString() : null;
            yield return new GreedyCase(
                modelName,
                c.Name,
                prompt,
                [.. c.Value.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32())],
                [.. c.Value.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32())]);
        }
    }
}
