using System.Text;
using System.Text.Json;
using OnnxGpt.Generation;
using OnnxGpt.Models;

namespace OnnxGpt.Tests.Models;

/// <summary>
/// Text prompts on the hub fixtures, as a user gives them: the prompt encodes to the reference's prompt ids, greedy
/// generation gives its ids, and the streamed text equals transformers.js's streamed text, for every variant.
/// </summary>
[TestFixture]
public sealed class HubTextTests
{
    private static readonly string[] Hubs = ["qwen3", "llama3", "gemma3", "mistral"];

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var hub in Hubs)
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Hub(hub), "reference.json")));
            foreach (var entry in doc.RootElement.GetProperty("greedy").EnumerateObject())
            {
                var e = entry.Value;
                yield return new TestCaseData(
                    hub,
                    e.GetProperty("dtype").GetString()!,
                    e.GetProperty("prompt").GetString()!,
                    e.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    e.GetProperty("greedy_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    e.GetProperty("text").GetString()!).SetName($"Text_{hub}_{e.GetProperty("dtype").GetString()}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public async Task A_text_prompt_streams_the_reference_text(string hub, string dtype, string prompt, int[] promptIds, int[] greedyIds, string text)
    {
        using var model = GptModel.Load(new GptOptions { ModelPath = TestPaths.Hub(hub), Variant = dtype == ModelFolder.DefaultVariant ? null : dtype });
        var generator = GptGenerator.Create(model);
        var streamed = new StringBuilder();
        GenerationResult? result = null;
        await foreach (var token in generator.StreamAsync(prompt, new GenerationOptions { DoSample = false, MaxNewTokens = greedyIds.Length }))
        {
            streamed.Append(token.Text);
            result = token.Result ?? result;
        }

        Assert.Multiple(() =>
        {
            Assert.That(result!.PromptTokenIds, Is.EqualTo(promptIds), "prompt ids");
            Assert.That(result.TokenIds, Is.EqualTo(greedyIds), "greedy ids");
            Assert.That(streamed.ToString(), Is.EqualTo(text), "streamed text");
        });
    }
}
