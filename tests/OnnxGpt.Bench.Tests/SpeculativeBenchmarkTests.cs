using OnnxGpt.Bench;

namespace OnnxGpt.Bench.Tests;

/// <summary><c>bench speculative</c>: plain, prompt lookup and a draft model in turns on the copy task, with identical ids.</summary>
public sealed class SpeculativeBenchmarkTests
{
    private static readonly string ModelDirectory = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");

    [Test]
    public async Task Every_mode_gives_plain_greedy_ids_and_counts_its_drafts()
    {
        var corpus = Path.Combine(Path.GetTempPath(), $"onnxgpt-spec-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(corpus, string.Concat(Enumerable.Repeat("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n", 8)));
        try
        {
            var report = await SpeculativeBenchmark.RunAsync(ModelDirectory, ModelDirectory, corpus, passageTokens: 60, newTokens: 24, promptLookup: 5, draftTokens: 3, rounds: 1, progress: null, CancellationToken.None);

            Assert.Multiple(() =>
            {
                Assert.That(report.Results.Select(r => r.Mode), Is.EqualTo(new[] { "plain", "prompt lookup 5", "draft tiny-shakespeare" }));
                Assert.That(report.IdsMatch, Is.True);
                Assert.That(report.PromptTokens, Is.EqualTo(60 + SpeculativeBenchmark.RepeatedTokens));
                Assert.That(report.Results[0].DraftedTokens, Is.Zero);
                Assert.That(report.Results[1].DraftedTokens, Is.GreaterThan(0));
                Assert.That(report.Results[2].AcceptedTokens, Is.EqualTo(report.Results[2].DraftedTokens), "a model agrees with itself");
                Assert.That(report.ToJson(), Does.Contain("\"idsMatchPlain\": true"));
            });
        }
        finally
        {
            File.Delete(corpus);
        }
    }
}
