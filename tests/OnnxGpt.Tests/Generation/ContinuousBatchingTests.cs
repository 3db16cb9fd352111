using System.Diagnostics;
using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Generation;

/// <summary>
/// Continuous batching: rows join a running batch and leave it mid-run, and every row still gets the greedy ids of
/// its single run (the fixtures' Hugging Face references) on every graph convention; a cancelled or failing row
/// leaves the others intact, and every cache goes back to the pool.
/// </summary>
[TestFixture]
public sealed class ContinuousBatchingTests
{
    private static readonly string[] Conventions = ["tiny-shakespeare", "gpt2-tiny", "gpt2-tiny-combined", "gpt2-tiny-merged", "gpt2-tiny-split", "tiny-llama-shakespeare"];

    private static string PathOf(string fixture) => fixture == "tiny-shakespeare" ? TestPaths.TinyShakespeare : TestPaths.Fixture(fixture);

    private static GenerationRow Row(GptModel model, IReadOnlyList<int> prompt, int maxNewTokens, CancellationToken cancellationToken = default)
    {
        var settings = new GenerationOptions { DoSample = false, MaxNewTokens = maxNewTokens }.WithDefaults(model.Info.Defaults.ToOptions());
        return new GenerationRow(new SequenceState(model, settings, prompt, maxNewTokens, Stopwatch.GetTimestamp()), null, cancellationToken);
    }

    private static int[] Ids(GenerationRow row)
    {
        var ids = new List<int>();
        while (row.Tokens.TryRead(out var token))
        {
            ids.Add(token.Id);
        }

        return [.. ids];
    }

    /// <summary>Row i joins after 2i iterations and generates 3i fewer tokens than the first, so rows join and leave while others run.</summary>
    private static (GenerationRow Row, int[] Expected)[] RunStaggered(GptModel model, IReadOnlyList<ReferenceData.GreedyCase> cases, out int peak) =>
        RunStaggered(model, cases, out peak, out _);

    private static (GenerationRow Row, int[] Expected)[] RunStaggered(GptModel model, IReadOnlyList<ReferenceData.GreedyCase> cases, out int peak, out int rebuilds)
    {
        var plan = cases.Concat(cases.Take(1)).Select((c, i) => (Case: c, JoinAt: 2 * i, Tokens: Math.Max(2, c.GreedyIds.Length - (3 * (i % 4))))).ToArray();
        var rows = new (GenerationRow Row, int[] Expected)[plan.Length];
        using var engine = new GenerationEngine(model, maxRows: 8);
        var iteration = 0;
        while (iteration == 0 || engine.Count > 0 || rows.Any(r => r.Row is null))
        {
            for (var i = 0; i < plan.Length; i++)
            {
                if (plan[i].JoinAt == iteration)
                {
                    rows[i] = (Row(model, plan[i].Case.PromptIds, plan[i].Tokens), plan[i].Case.GreedyIds[..plan[i].Tokens]);
                    engine.Add(rows[i].Row);
                }
            }

            engine.Iterate();
            iteration++;
        }

        peak = engine.PeakRows;
        rebuilds = engine.Rebuilds;
        return rows;
    }

    [TestCaseSource(nameof(Conventions))]
    public void Rows_joining_and_leaving_mid_run_get_their_reference_greedy_ids(string fixture)
    {
        using var model = GptModel.Load(PathOf(fixture));
        var cases = ReferenceData.Greedy(fixture, PathOf(fixture)).ToList();

        var rows = RunStaggered(model, cases, out var peak);

        Assert.Multiple(() =>
        {
            foreach (var (row, expected) in rows)
            {
                Assert.That(row.Failure, Is.Null);
                Assert.That(Ids(row), Is.EqualTo(expected), string.Join(",", row.State.PromptIds));
            }

            Assert.That(peak, Is.GreaterThanOrEqualTo(Math.Min(3, cases.Count)), "rows ran together");
            Assert.That(model.CacheStatistics.Rented, Is.Zero, "every cache went back to the pool");
        });
    }

    [Test]
    public void Joining_and_leaving_copy_one_row_on_separate_caches_and_rebuild_the_batch_on_combined_ones()
    {
        // The same GPT-2 in two cache layouts: a combined cache's value half moves with the row count, so only it rebuilds.
        using var separate = GptModel.Load(PathOf("gpt2-tiny"));
        using var combined = GptModel.Load(PathOf("gpt2-tiny-combined"));
        var cases = ReferenceData.Greedy("gpt2-tiny", PathOf("gpt2-tiny")).ToList();

        var separateRows = RunStaggered(separate, cases, out _, out var separateRebuilds);
        var combinedRows = RunStaggered(combined, cases, out _, out var combinedRebuilds);

        TestContext.Out.WriteLine($"{cases.Count + 1} rows: {separateRebuilds} rebuilds (separate), {combinedRebuilds} (combined)");
        Assert.Multiple(() =>
        {
            foreach (var (row, expected) in separateRows.Concat(combinedRows))
            {
                Assert.That(Ids(row), Is.EqualTo(expected));
            }

            Assert.That(separateRebuilds, Is.LessThan(combinedRebuilds), "joins and leaves copied one row (the batch still grows by rebuilding: 1, 2, then 4 rows)");
            Assert.That(separate.CacheStatistics.Rented + combined.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public void A_row_left_alone_in_the_batch_is_unpadded_before_its_next_step_and_keeps_its_single_run_ids()
    {
        // Speculation rolls a lone row's cache back and a conversation keeps it: both need it without padding.
        using var model = GptModel.Load(PathOf("gpt2-tiny"));
        int[] longPrompt = [5, 9, 14, 3, 5, 9, 14, 3, 7, 2];
        int[] shortPrompt = [7, 2];
        var alone = Row(model, shortPrompt, 12);
        using (var single = new GenerationEngine(model, maxRows: 8))
        {
            single.Add(alone);
            while (single.Count > 0)
            {
                single.Iterate();
            }
        }

        using var engine = new GenerationEngine(model, maxRows: 8);
        var longer = Row(model, longPrompt, 3);
        var shorter = Row(model, shortPrompt, 12);
        engine.Add(longer);
        engine.Add(shorter);
        while (!longer.Ended)
        {
            engine.Iterate();
        }

        engine.Iterate();
        var (home, slot) = SessionRowDecoder.Where(shorter);
        var unpadded = home!.RowLength(slot) == home.Length;
        while (engine.Count > 0)
        {
            engine.Iterate();
        }

        Assert.Multiple(() =>
        {
            Assert.That(unpadded, Is.True, "the longer row's padding was dropped once the shorter ran alone");
            Assert.That(Ids(shorter), Is.EqualTo(Ids(alone)));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public void Float16_caches_join_and_leave_like_float32_ones()
    {
        using var folder = new TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.TinyShakespeare))
        {
            if (Path.GetFileName(file) != "model.onnx")
            {
                File.Copy(file, folder.File(Path.GetFileName(file)));
            }
        }

        OnnxGraphRewriter.ToFloat16Boundary(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"), folder.File("model.onnx"));
        using var model = GptModel.Load(folder.Path);
        var cases = ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).ToList();

        var rows = RunStaggered(model, cases, out var peak);

        Assert.Multiple(() =>
        {
            Assert.That(model.Info.CacheElementType, Is.EqualTo("float16"));
            foreach (var (row, expected) in rows)
            {
                Assert.That(Ids(row), Is.EqualTo(expected));
            }

            Assert.That(peak, Is.GreaterThanOrEqualTo(3));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task A_model_without_a_cache_refuses_batching_clearly_and_runs_each_request_alone()
    {
        using var model = GptModel.Load(TestPaths.Fixture("gpt2-tiny-nocache"));
        var generator = GptGenerator.Create(model);
        var cases = ReferenceData.Greedy("gpt2-tiny-nocache", TestPaths.Fixture("gpt2-tiny-nocache")).ToList();

        var batch = Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateBatchAsync([.. cases.Select(c => GptPrompt.FromTokenIds(c.PromptIds))]));
        var results = await Task.WhenAll(cases.Select(c => generator.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length })));

        Assert.Multiple(() =>
        {
            Assert.That(batch!.Message, Does.Contain("no KV cache"));
            Assert.That(model.Runtime.Batches, Is.False);
            for (var i = 0; i < cases.Count; i++)
            {
                Assert.That(results[i].TokenIds, Is.EqualTo(cases[i].GreedyIds));
            }
        });
    }

    [Test]
    public void Cancelling_one_row_leaves_the_others_intact()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var cases = ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).ToList();
        using var cts = new CancellationTokenSource();
        using var engine = new GenerationEngine(model, maxRows: 8);
        var rows = cases.Select((c, i) => Row(model, c.PromptIds, c.GreedyIds.Length, i == 1 ? cts.Token : default)).ToArray();
        foreach (var row in rows)
        {
            engine.Add(row);
        }

        for (var i = 0; i < 5; i++)
        {
            engine.Iterate();
        }

        cts.Cancel();
        while (engine.Count > 0)
        {
            engine.Iterate();
        }

        Assert.Multiple(() =>
        {
            var cancelled = rows[1].Failure as GenerationCanceledException;
            Assert.That(cancelled, Is.Not.Null);
            // The first iteration runs the prompts and one step: five iterations give six tokens.
            Assert.That(cancelled!.PartialResult!.TokenIds, Is.EqualTo(cases[1].GreedyIds[..6]));
            Assert.That(Ids(rows[1]), Is.EqualTo(cases[1].GreedyIds[..6]));
            for (var i = 0; i < rows.Length; i++)
            {
                if (i != 1)
                {
                    Assert.That(rows[i].Failure, Is.Null);
                    Assert.That(Ids(rows[i]), Is.EqualTo(cases[i].GreedyIds));
                }
            }

            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task A_throwing_custom_stage_fails_only_its_row()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var cases = ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).ToList();

        var failing = generator.GenerateAsync(cases[0].PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = 40, CustomStages = [new ThrowingStage(after: 6)] });
        var others = cases.Select(c => generator.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length })).ToArray();

        var ex = Assert.ThrowsAsync<InvalidOperationException>(async () => await failing);
        var results = await Task.WhenAll(others);

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Is.EqualTo("stage failed"));
            for (var i = 0; i < cases.Count; i++)
            {
                Assert.That(results[i].TokenIds, Is.EqualTo(cases[i].GreedyIds));
            }

            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task Concurrent_requests_run_in_one_batch_and_each_gets_its_single_run_ids()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var alone = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, EnableBatching = false });
        string[] prompts = ["ROMEO:", "JULIET:", "First Citizen:", "KING RICHARD III:", "MENENIUS:", "O", "Now is the winter", "To be"];
        var options = prompts.Select((_, i) => new GenerationOptions { DoSample = false, MaxNewTokens = 60 + (i * 15) }).ToArray();
        var expected = new List<GenerationResult>();
        for (var i = 0; i < prompts.Length; i++)
        {
            expected.Add(await GptGenerator.Create(alone).GenerateAsync(prompts[i], options[i]));
        }

        var generator = GptGenerator.Create(model);
        var results = await Task.WhenAll(prompts.Select((p, i) => Task.Run(async () =>
        {
            await Task.Delay(i * 3);
            return await generator.GenerateAsync(p, options[i]);
        })));

        Assert.Multiple(() =>
        {
            for (var i = 0; i < prompts.Length; i++)
            {
                Assert.That(results[i].TokenIds, Is.EqualTo(expected[i].TokenIds), prompts[i]);
                Assert.That(results[i].Text, Is.EqualTo(expected[i].Text), prompts[i]);
            }

            Assert.That(model.Runtime.Scheduler.PeakRows, Is.GreaterThan(1), "the requests ran together");
            Assert.That(alone.Runtime.Batches, Is.False);
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [TestCase("tiny-shakespeare")]
    [TestCase("gpt2-tiny-split")]
    [TestCase("gpt2-tiny-merged")]
    public void Prompts_longer_than_the_prefill_budget_run_in_chunks_beside_running_rows_and_get_their_reference_ids(string fixture)
    {
        using var model = GptModel.Load(PathOf(fixture));
        var cases = ReferenceData.Greedy(fixture, PathOf(fixture)).ToList();
        using var engine = new GenerationEngine(model, maxRows: 8, prefillBudget: 3);
        var rows = cases.Select(c => Row(model, c.PromptIds, c.GreedyIds.Length)).ToArray();
        foreach (var row in rows)
        {
            engine.Add(row);
        }

        var iterations = 0;
        while (engine.Count > 0)
        {
            engine.Iterate();
            iterations++;
        }

        Assert.Multiple(() =>
        {
            Assert.That(cases.Max(c => c.PromptIds.Length), Is.GreaterThan(3), "a prompt needs several chunks");
            for (var i = 0; i < rows.Length; i++)
            {
                Assert.That(rows[i].Failure, Is.Null);
                Assert.That(Ids(rows[i]), Is.EqualTo(cases[i].GreedyIds), cases[i].Name);
            }

            Assert.That(engine.PeakRows, Is.GreaterThan(1));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public void A_short_prompt_arriving_while_a_long_one_runs_in_chunks_gets_its_first_token_before_the_long_prompt_is_prefilled()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var cases = ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).ToDictionary(c => c.Name);
        var (longCase, shortCase) = (cases["citizen"], cases["romeo"]);
        using var engine = new GenerationEngine(model, maxRows: 8, prefillBudget: 8, prefillGroupTokens: 4);
        var longRow = Row(model, longCase.PromptIds, longCase.GreedyIds.Length);
        var shortRow = Row(model, shortCase.PromptIds, shortCase.GreedyIds.Length);
        var longIds = new List<int>();
        var shortIds = new List<int>();

        engine.Add(longRow);
        engine.Iterate();
        var afterFirstChunk = longRow.PrefilledTokens;
        engine.Add(shortRow);
        engine.Iterate();
        Drain(shortRow, shortIds);
        Drain(longRow, longIds);
        var shortTokensMeanwhile = shortIds.Count;
        var longPrefilled = longRow.PrefilledTokens;
        var longTokensMeanwhile = longIds.Count;
        while (engine.Count > 0)
        {
            engine.Iterate();
        }

        Drain(shortRow, shortIds);
        Drain(longRow, longIds);
        Assert.Multiple(() =>
        {
            Assert.That(longCase.PromptIds, Has.Length.EqualTo(17));
            Assert.That(afterFirstChunk, Is.EqualTo(8), "the first chunk takes the whole budget");

            // The short prompt ran first (2 tokens), its row took its first step, and the long one ran 8 - 2 tokens.
            Assert.That(shortTokensMeanwhile, Is.EqualTo(2));
            Assert.That(longPrefilled, Is.EqualTo(14));
            Assert.That(longTokensMeanwhile, Is.Zero);
            Assert.That(shortIds, Is.EqualTo(shortCase.GreedyIds));
            Assert.That(longIds, Is.EqualTo(longCase.GreedyIds));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public void Simultaneous_prompts_run_in_groups_and_each_group_gets_its_first_tokens_before_the_next_group_runs()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var cases = ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).ToDictionary(c => c.Name);
        string[] order = ["citizen", "king", "romeo"];

        // 17 padded tokens a group: citizen (17) alone, then king (15) alone (15 + 15 > 17), then romeo (2).
        using var engine = new GenerationEngine(model, maxRows: 8, prefillGroupTokens: 17);
        var probe = new PrefillProbe();
        var rows = order.Select(name => name == "citizen"
            ? ProbedRow(model, cases[name], probe)
            : Row(model, cases[name].PromptIds, cases[name].GreedyIds.Length)).ToArray();
        probe.Watched = rows[1];
        foreach (var row in rows)
        {
            engine.Add(row);
        }

        engine.Iterate();
        var firstIteration = rows.Select(r => r.PrefilledTokens).ToArray();
        while (engine.Count > 0)
        {
            engine.Iterate();
        }

        Assert.Multiple(() =>
        {
            Assert.That(probe.PrefilledWhenFirstSampled, Is.Zero, "citizen's first token was sampled before king's prompt ran");
            Assert.That(firstIteration, Is.EqualTo(new[] { 17, 15, 2 }), "every group ran in the first iteration");
            for (var i = 0; i < rows.Length; i++)
            {
                Assert.That(rows[i].Failure, Is.Null);
                Assert.That(Ids(rows[i]), Is.EqualTo(cases[order[i]].GreedyIds), order[i]);
            }

            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    private static GenerationRow ProbedRow(GptModel model, ReferenceData.GreedyCase c, PrefillProbe probe)
    {
        var settings = new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length, CustomStages = [probe] }.WithDefaults(model.Info.Defaults.ToOptions());
        return new GenerationRow(new SequenceState(model, settings, c.PromptIds, c.GreedyIds.Length, Stopwatch.GetTimestamp()), null, default);
    }

    private static void Drain(GenerationRow row, List<int> ids)
    {
        while (row.Tokens.TryRead(out var token))
        {
            ids.Add(token.Id);
        }
    }

    /// <summary>Records, when its row's first token is sampled, how many prompt tokens another row has run (it leaves the scores as they are).</summary>
    private sealed class PrefillProbe : ISamplingStage
    {
        public GenerationRow? Watched { get; set; }

        public int? PrefilledWhenFirstSampled { get; private set; }

        public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds) => PrefilledWhenFirstSampled ??= Watched!.PrefilledTokens;
    }

    /// <summary>Throws on its n-th call.</summary>
    private sealed class ThrowingStage(int after) : ISamplingStage
    {
        private int _calls;

        public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
        {
            if (++_calls > after)
            {
                throw new InvalidOperationException("stage failed");
            }
        }
    }
}
