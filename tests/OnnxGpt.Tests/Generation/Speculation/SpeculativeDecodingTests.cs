using System.Diagnostics;
using OnnxGpt.Generation;
using OnnxGpt.Generation.Speculation;

namespace OnnxGpt.Tests.Generation.Speculation;

/// <summary>
/// Speculative decoding (prompt lookup and a draft model) gives exactly plain greedy's ids on every graph convention
/// (the fixtures' Hugging Face references, and plain greedy itself on longer runs), drafts and accepts tokens, keeps
/// stops, lengths and constraints, and runs inside the continuous batch.
/// </summary>
[TestFixture]
public sealed class SpeculativeDecodingTests
{
    private static readonly string[] Conventions = ["tiny-shakespeare", "gpt2-tiny", "gpt2-tiny-combined", "gpt2-tiny-merged", "gpt2-tiny-split", "tiny-llama-shakespeare"];

    private static string PathOf(string fixture) => fixture == "tiny-shakespeare" ? TestPaths.TinyShakespeare : TestPaths.Fixture(fixture);

    [TestCaseSource(nameof(Conventions))]
    public async Task Prompt_lookup_greedy_ids_equal_the_reference_on_every_convention(string fixture)
    {
        using var model = GptModel.Load(PathOf(fixture));
        await AssertReferenceIds(model, fixture, PathOf(fixture), new GenerationOptions { PromptLookupTokens = 4 });
    }

    [Test]
    public async Task Prompt_lookup_greedy_ids_equal_the_reference_with_float16_caches_and_logits()
    {
        using var folder = Float16Copy();
        using var model = GptModel.Load(folder.Path);
        Assert.That(model.Info.CacheElementType, Is.EqualTo("float16"));
        await AssertReferenceIds(model, "tiny-shakespeare", TestPaths.TinyShakespeare, new GenerationOptions { PromptLookupTokens = 4 });
    }

    [TestCaseSource(nameof(Conventions))]
    public async Task A_draft_model_gives_the_reference_greedy_ids_on_every_convention(string fixture)
    {
        // The model drafting for itself accepts every draft; the float16 copy (tiny-shakespeare) drafts with other numbers.
        using var model = GptModel.Load(new GptOptions { ModelPath = PathOf(fixture), DraftModelPath = PathOf(fixture) });
        var results = await AssertReferenceIds(model, fixture, PathOf(fixture), new GenerationOptions());
        Assert.That(results.Sum(r => r.AcceptedDraftTokenCount), Is.EqualTo(results.Sum(r => r.DraftedTokenCount)), "a model agrees with itself");
    }

    [Test]
    public async Task Long_runs_equal_plain_greedy_with_prompt_lookup_and_a_float16_draft()
    {
        using var folder = Float16Copy();
        using var plain = GptModel.Load(TestPaths.TinyShakespeare);
        using var drafted = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, DraftModelPath = folder.Path });
        var prompts = new[] { "ROMEO:", "KING RICHARD III:\nNow is the winter of our discontent", "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nFirst Citizen:\n" };
        foreach (var prompt in prompts)
        {
            var expected = await GptGenerator.Create(plain).GenerateAsync(prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 120 });
            var lookup = await GptGenerator.Create(plain).GenerateAsync(prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 120, PromptLookupTokens = 6 });
            var draft = await GptGenerator.Create(drafted).GenerateAsync(prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 120 });
            TestContext.Out.WriteLine($"{prompt.Length} chars: lookup {lookup.AcceptedDraftTokenCount}/{lookup.DraftedTokenCount}, float16 draft {draft.AcceptedDraftTokenCount}/{draft.DraftedTokenCount}");
            Assert.Multiple(() =>
            {
                Assert.That(lookup.TokenIds, Is.EqualTo(expected.TokenIds), "prompt lookup");
                Assert.That(lookup.Text, Is.EqualTo(expected.Text));
                Assert.That(draft.TokenIds, Is.EqualTo(expected.TokenIds), "float16 draft");
                Assert.That(lookup.DraftedTokenCount, Is.GreaterThan(0));
                Assert.That(draft.AcceptedDraftTokenCount, Is.GreaterThan(0));
                Assert.That(draft.AcceptedDraftTokenCount, Is.LessThanOrEqualTo(draft.DraftedTokenCount));
                Assert.That(expected.DraftedTokenCount, Is.Zero);
            });
        }

        Assert.That(plain.CacheStatistics.Rented + drafted.CacheStatistics.Rented + drafted.DraftModel!.CacheStatistics.Rented, Is.Zero, "every cache went back to its pool");
    }

    [Test]
    public async Task A_copy_task_keeps_many_drafts_and_the_ids()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var passage = (await generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 80 })).Text;
        var prompt = "ROMEO:" + passage + "\n\nROMEO:" + passage[..20];
        var plain = await generator.GenerateAsync(prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 60 });
        var lookup = await generator.GenerateAsync(prompt, new GenerationOptions { DoSample = false, MaxNewTokens = 60, PromptLookupTokens = 10 });

        TestContext.Out.WriteLine($"accepted {lookup.AcceptedDraftTokenCount} of {lookup.DraftedTokenCount}");
        Assert.Multiple(() =>
        {
            Assert.That(lookup.TokenIds, Is.EqualTo(plain.TokenIds));
            Assert.That(lookup.AcceptedDraftTokenCount, Is.GreaterThan(plain.TokenIds.Count / 3), "the copied passage is drafted and kept");
        });
    }

    [Test]
    public async Task Stops_lengths_and_json_constraints_end_where_plain_decoding_ends()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var cases = new[]
        {
            new GenerationOptions { DoSample = false, MaxNewTokens = 7 },
            new GenerationOptions { DoSample = false, MaxNewTokens = 100, StopSequences = ["the"] },
            new GenerationOptions { DoSample = false, MaxNewTokens = 100, StopSequences = ["\n\n"] },
            new GenerationOptions { DoSample = false, MaxNewTokens = 40, AnyJson = true },
            new GenerationOptions { DoSample = false, MaxNewTokens = 60, JsonSchema = """{"type":"object","properties":{"name":{"type":"string","maxLength":12},"age":{"type":"integer"}},"required":["name","age"]}""" },
            new GenerationOptions { DoSample = false, MaxNewTokens = 50, RepetitionPenalty = 1.3f, NoRepeatNGramSize = 3 },
        };
        foreach (var options in cases)
        {
            var prompt = "ROMEO:\nWhat, ho! ROMEO:\nWhat";
            var plain = await generator.GenerateAsync(prompt, options);
            var lookup = await generator.GenerateAsync(prompt, options.WithDefaults(new GenerationOptions { PromptLookupTokens = 5 }));
            Assert.Multiple(() =>
            {
                Assert.That(lookup.TokenIds, Is.EqualTo(plain.TokenIds));
                Assert.That(lookup.Text, Is.EqualTo(plain.Text));
                Assert.That(lookup.FinishReason, Is.EqualTo(plain.FinishReason));
            });
        }
    }

    [Test]
    public void A_speculative_row_runs_in_the_continuous_batch_and_keeps_its_ids_as_rows_join_and_leave()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var prompts = new[] { "ROMEO:\nROMEO:", "JULIET:", "KING HENRY:\nMy lord", "ROMEO:\nWhat, ho!" };
        var expected = prompts.Select(p => Plain(model, p, 50)).ToArray();
        var rows = new GenerationRow[prompts.Length];
        using (var engine = new GenerationEngine(model, maxRows: 8))
        {
            var iteration = 0;
            while (iteration == 0 || engine.Count > 0 || rows.Any(r => r is null))
            {
                for (var i = 0; i < prompts.Length; i++)
                {
                    // Row 0 speculates alone, then rows 1..3 join at 5, 10, 15 and leave; row 3 speculates too.
                    if (iteration == 5 * i)
                    {
                        rows[i] = Row(model, prompts[i], 50 - (10 * i), speculate: i is 0 or 3);
                        engine.Add(rows[i]);
                    }
                }

                engine.Iterate();
                iteration++;
            }
        }

        Assert.Multiple(() =>
        {
            for (var i = 0; i < rows.Length; i++)
            {
                Assert.That(rows[i].Failure, Is.Null);
                Assert.That(Ids(rows[i]), Is.EqualTo(expected[i].Take(50 - (10 * i))), prompts[i]);
            }

            Assert.That(rows[0].State.DraftedTokens, Is.GreaterThan(0));
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task Concurrent_requests_with_prompt_lookup_get_their_plain_ids()
    {
        using var model = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, EnableBatching = true });
        var generator = GptGenerator.Create(model);
        var prompts = new[] { "ROMEO:", "JULIET:", "ROMEO:\nROMEO:", "First Citizen:" };
        var expected = await Task.WhenAll(prompts.Select(p => generator.GenerateAsync(p, new GenerationOptions { DoSample = false, MaxNewTokens = 40 })));
        var results = await Task.WhenAll(prompts.Select(p => generator.GenerateAsync(p, new GenerationOptions { DoSample = false, MaxNewTokens = 40, PromptLookupTokens = 4 })));
        Assert.Multiple(() =>
        {
            for (var i = 0; i < prompts.Length; i++)
            {
                Assert.That(results[i].TokenIds, Is.EqualTo(expected[i].TokenIds), prompts[i]);
            }
        });
    }

    [Test]
    public void A_draft_with_another_tokenizer_fails_at_load_naming_the_difference()
    {
        var error = Assert.Throws<ModelLoadException>(() => GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, DraftModelPath = TestPaths.Fixture("gpt2-tiny") }));
        Assert.That(error!.Message, Does.Contain("cannot draft for").And.Contain("vocabulary has 50257 tokens, the target's 2048"));
    }

    [TestCase(-1, "PromptLookupTokens")]
    [TestCase(65, "PromptLookupTokens")]
    public void Out_of_range_speculative_settings_name_themselves(int value, string setting)
    {
        var options = new GenerationOptions { PromptLookupTokens = value };
        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.That(error!.ParamName, Is.EqualTo(setting));
        Assert.Throws<ArgumentOutOfRangeException>(new GenerationOptions { DraftTokens = value }.Validate);
    }

    [Test]
    public void Prompt_lookup_drafts_what_followed_the_most_recent_longest_match()
    {
        var drafter = new PromptLookupDrafter();
        var draft = new int[4];
        Assert.Multiple(() =>
        {
            // "1 2 3" occurs at 0 and 5; the most recent earlier one (5) is followed by 8 9.
            Assert.That(drafter.Draft([1, 2, 3, 4, 5, 1, 2, 3, 8, 9, 1, 2, 3], draft), Is.EqualTo(4));
            Assert.That(draft, Is.EqualTo(new[] { 8, 9, 1, 2 }));

            // No trigram or bigram match: the last unigram's.
            Assert.That(drafter.Draft([7, 1, 6, 5, 7], draft.AsSpan(0, 2)), Is.EqualTo(2));
            Assert.That(draft[..2], Is.EqualTo(new[] { 1, 6 }));
            Assert.That(drafter.Draft([1, 2, 3], draft), Is.Zero);
        });
    }

    private static async Task<GenerationResult[]> AssertReferenceIds(GptModel model, string fixture, string folder, GenerationOptions extra)
    {
        var generator = GptGenerator.Create(model);
        var cases = ReferenceData.Greedy(fixture, folder).ToList();
        var results = new List<GenerationResult>();
        foreach (var c in cases)
        {
            var options = extra.WithDefaults(new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });
            results.Add(await generator.GenerateAsync(c.PromptIds, options));
        }

        Assert.Multiple(() =>
        {
            for (var i = 0; i < cases.Count; i++)
            {
                Assert.That(results[i].TokenIds, Is.EqualTo(cases[i].GreedyIds), cases[i].Name);
            }

            Assert.That(results.Sum(r => r.DraftedTokenCount), Is.GreaterThan(0), "tokens were drafted");
            Assert.That(model.CacheStatistics.Rented, Is.Zero, "every cache went back to the pool");
        });
        return [.. results];
    }

    private static TempDirectory Float16Copy()
    {
        var folder = new TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.TinyShakespeare))
        {
            if (Path.GetFileName(file) != "model.onnx")
            {
                File.Copy(file, folder.File(Path.GetFileName(file)));
            }
        }

        OnnxGraphRewriter.ToFloat16Boundary(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"), folder.File("model.onnx"));
        return folder;
    }

    private static int[] Plain(GptModel model, string prompt, int tokens)
    {
        var row = Row(model, prompt, tokens, speculate: false);
        using var engine = new GenerationEngine(model, 1);
        engine.Add(row);
        while (engine.Count > 0)
        {
            engine.Iterate();
        }

        return Ids(row);
    }

    private static GenerationRow Row(GptModel model, string prompt, int maxNewTokens, bool speculate)
    {
        var settings = new GenerationOptions { DoSample = false, MaxNewTokens = maxNewTokens, PromptLookupTokens = speculate ? 4 : null }.WithDefaults(model.Info.Defaults.ToOptions());
        var ids = model.Encode(prompt);
        return new GenerationRow(new SequenceState(model, settings, ids, maxNewTokens, Stopwatch.GetTimestamp()), null, CancellationToken.None)
        {
            Speculation = SpeculativeDecoder.Create(model, settings, ids.Count + maxNewTokens),
        };
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
}
