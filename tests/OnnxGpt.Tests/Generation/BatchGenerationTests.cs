using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

/// <summary>Batched generation: one session run per step for every row, each row equal to its single run.</summary>
[TestFixture]
public sealed class BatchGenerationTests
{
    [TestCase("tiny-shakespeare")]
    [TestCase("tiny-llama-shakespeare")]
    public async Task Every_row_reproduces_its_reference_greedy_ids(string fixture)
    {
        var path = fixture == "tiny-shakespeare" ? TestPaths.TinyShakespeare : TestPaths.Fixture(fixture);
        var cases = ReferenceData.Greedy(fixture, path).ToList();
        using var model = GptModel.Load(path);
        var generator = GptGenerator.Create(model);

        var results = await generator.GenerateBatchAsync(
            [.. cases.Select(c => GptPrompt.FromText(c.Prompt!))],
            [.. cases.Select(c => (GenerationOptions?)new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length })]);

        Assert.Multiple(() =>
        {
            for (var r = 0; r < cases.Count; r++)
            {
                Assert.That(results[r].PromptTokenIds, Is.EqualTo(cases[r].PromptIds), cases[r].Name);
                Assert.That(results[r].TokenIds, Is.EqualTo(cases[r].GreedyIds), cases[r].Name);
                Assert.That(results[r].FinishReason, Is.EqualTo(FinishReason.Length));
            }

            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task Prompt_id_rows_reproduce_gpt2_tiny_references()
    {
        var cases = ReferenceData.Greedy("gpt2-tiny", TestPaths.Fixture("gpt2-tiny")).ToList();
        using var model = GptModel.Load(TestPaths.Fixture("gpt2-tiny"));

        var results = await GptGenerator.Create(model).GenerateBatchAsync(
            [.. cases.Select(c => GptPrompt.FromTokenIds(c.PromptIds))],
            [new GenerationOptions { DoSample = false, MaxNewTokens = 24 }]);

        for (var r = 0; r < cases.Count; r++)
        {
            Assert.That(results[r].TokenIds, Is.EqualTo(cases[r].GreedyIds), cases[r].Name);
        }
    }

    [Test]
    public async Task Rows_end_on_their_own_with_their_own_settings_and_stream_their_own_text()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        GptPrompt[] prompts = ["ROMEO:", "JULIET:", "First Citizen:"];
        GenerationOptions?[] options =
        [
            new GenerationOptions { DoSample = false, MaxNewTokens = 3 },
            new GenerationOptions { DoSample = false, MaxNewTokens = 12 },
            new GenerationOptions { DoSample = false, MaxNewTokens = 30, StopSequences = ["\n"] },
        ];
        var streamed = new Dictionary<int, List<GeneratedToken>> { [0] = [], [1] = [], [2] = [] };

        await foreach (var token in generator.StreamBatchAsync(prompts, options))
        {
            streamed[token.Row].Add(token.Token);
        }

        for (var r = 0; r < prompts.Length; r++)
        {
            var alone = await generator.GenerateAsync(prompts[r], options[r]);
            var result = streamed[r][^1].Result!;
            Assert.Multiple(() =>
            {
                Assert.That(result.TokenIds, Is.EqualTo(alone.TokenIds), $"row {r}");
                Assert.That(result.FinishReason, Is.EqualTo(alone.FinishReason), $"row {r}");
                Assert.That(string.Concat(streamed[r].Select(t => t.Text)), Is.EqualTo(alone.Text), $"row {r}");
                Assert.That(streamed[r].Count(t => t.Result is not null), Is.EqualTo(1), $"row {r}");
            });
        }

        Assert.That(streamed[0], Has.Count.EqualTo(3));
    }

    [Test]
    public async Task The_same_seed_gives_the_same_text_alone_and_at_any_batch_position()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var seeded = new GenerationOptions { Seed = 42, MaxNewTokens = 20 };
        var alone = await generator.GenerateAsync("ROMEO:", seeded);

        var first = await generator.GenerateBatchAsync(["ROMEO:", "KING RICHARD III:", "JULIET:"], [seeded, seeded, seeded]);
        var last = await generator.GenerateBatchAsync(["KING RICHARD III:", "JULIET:", "ROMEO:"], [seeded, seeded, seeded]);

        Assert.Multiple(() =>
        {
            Assert.That(first[0].TokenIds, Is.EqualTo(alone.TokenIds));
            Assert.That(last[2].TokenIds, Is.EqualTo(alone.TokenIds));
        });
    }

    [Test]
    public void Cancellation_stops_the_batch()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var cts = new CancellationTokenSource();
        var rows = 0;

        Assert.ThrowsAsync<GenerationCanceledException>(async () =>
        {
            await foreach (var _ in GptGenerator.Create(model).StreamBatchAsync(["ROMEO:", "JULIET:"], [new GenerationOptions { MaxNewTokens = 50 }], cts.Token))
            {
                if (++rows == 4)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(rows, Is.EqualTo(4));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public void Bad_batch_arguments_are_clear()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);

        Assert.Multiple(() =>
        {
            Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateBatchAsync([]));
            Assert.ThrowsAsync<ArgumentException>(() => generator.GenerateBatchAsync(["a", "b", "c"], [null, null]));
        });
    }
}
