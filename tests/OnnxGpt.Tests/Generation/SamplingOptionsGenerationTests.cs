using Microsoft.Extensions.Options;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

/// <summary>The sampling settings through the public generation API, on the embedded tiny-shakespeare model.</summary>
[TestFixture]
public sealed class SamplingOptionsGenerationTests : TinyShakespeareFixture
{
    private const int Eos = 0;
    private static readonly int[] KingPrompt = [466, 695, 951, 26, 199, 755, 325, 268, 1679, 405, 301, 413, 1541, 1048, 338];

    private static int[] Greedy64 => ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare).First(c => c.Name == "romeo").GreedyIds;

    private async Task<List<GeneratedToken>> StreamAsync(GptPrompt prompt, GenerationOptions options)
    {
        var tokens = new List<GeneratedToken>();
        await foreach (var token in Generator.StreamAsync(prompt, options))
        {
            tokens.Add(token);
        }

        return tokens;
    }

    [Test]
    public async Task A_large_eos_bias_ends_at_once_and_min_new_tokens_holds_it_off()
    {
        var bias = new Dictionary<int, float> { [Eos] = 100 };

        var immediate = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { LogitBias = bias, Seed = 1, MaxNewTokens = 20 });
        var held = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { LogitBias = bias, MinNewTokens = 5, Seed = 1, MaxNewTokens = 20 });
        var heldGreedy = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { LogitBias = bias, MinNewTokens = 5, DoSample = false, MaxNewTokens = 20 });

        Assert.Multiple(() =>
        {
            Assert.That(immediate.FinishReason, Is.EqualTo(FinishReason.Eos));
            Assert.That(immediate.TokenIds, Is.EqualTo(new[] { Eos }));
            Assert.That(held.GeneratedTokenCount, Is.GreaterThanOrEqualTo(5));
            Assert.That(held.TokenIds.Take(5), Has.No.Member(Eos));
            // Once 5 tokens exist, the +100 bias makes eos all but certain: the 6th token ends the generation.
            Assert.That(heldGreedy.GeneratedTokenCount, Is.EqualTo(6));
            Assert.That(heldGreedy.FinishReason, Is.EqualTo(FinishReason.Eos));
            Assert.That(heldGreedy.TokenIds.Take(5), Is.EqualTo(Greedy64.Take(5)), "until then, eos is removed and the rest is untouched");
        });
    }

    [Test]
    public async Task Logit_bias_changes_the_greedy_output_as_expected()
    {
        // Greedy starts with 199 ("\n"); the runner-up is 532 (" O").
        var banned = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 3, LogitBias = new Dictionary<int, float> { [199] = float.NegativeInfinity } });
        var forced = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 4, LogitBias = new Dictionary<int, float> { [41] = 100 } });

        Assert.Multiple(() =>
        {
            Assert.That(Greedy64[0], Is.EqualTo(199));
            Assert.That(banned.TokenIds[0], Is.EqualTo(532));
            Assert.That(banned.TokenIds, Has.No.Member(199));
            Assert.That(forced.TokenIds, Is.EqualTo(new[] { 41, 41, 41, 41 }));
        });
    }

    [Test]
    public async Task Banned_sequences_change_the_greedy_output_only_where_they_would_complete()
    {
        // Greedy: 199 41 456 322 ...: ban the pair [41 456] and the single token 322.
        var result = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 12, BannedTokenSequences = [[41, 456], [322]] });

        Assert.Multiple(() =>
        {
            Assert.That(Greedy64[..3], Is.EqualTo(new[] { 199, 41, 456 }));
            Assert.That(result.TokenIds.Take(2), Is.EqualTo(new[] { 199, 41 }), "41 itself is allowed");
            Assert.That(result.TokenIds[2], Is.Not.EqualTo(456), "456 is banned right after 41");
            Assert.That(result.TokenIds, Has.No.Member(322));
            for (var i = 1; i < result.TokenIds.Count; i++)
            {
                Assert.That(result.TokenIds[i - 1] == 41 && result.TokenIds[i] == 456, Is.False, $"[41 456] at {i - 1}");
            }
        });
    }

    [Test]
    public async Task No_repeat_ngram_leaves_no_repeated_bigram_in_prompt_and_output()
    {
        var result = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 64, NoRepeatNGramSize = 2 });
        var all = result.PromptTokenIds.Concat(result.TokenIds).ToArray();
        var bigrams = Enumerable.Range(0, all.Length - 1).Select(i => (all[i], all[i + 1])).ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(bigrams, Is.Unique);
            Assert.That(Greedy64.Zip(Greedy64.Skip(1)).Distinct().Count(), Is.LessThan(Greedy64.Length - 1), "plain greedy does repeat bigrams");
        });
    }

    [Test]
    public async Task Frequency_and_presence_penalties_ignore_the_prompt()
    {
        // The prompt holds 199 twice; with nothing generated yet, the penalties change nothing.
        var plain = await Generator.GetNextTokenDistributionAsync(GptPrompt.FromTokenIds(KingPrompt), new GenerationOptions { DoSample = false });
        var penalized = await Generator.GetNextTokenDistributionAsync(GptPrompt.FromTokenIds(KingPrompt), new GenerationOptions { DoSample = false, FrequencyPenalty = 2, PresencePenalty = 2 });
        var repetition = await Generator.GetNextTokenDistributionAsync(GptPrompt.FromTokenIds(KingPrompt), new GenerationOptions { DoSample = false, RepetitionPenalty = 2 });

        Assert.Multiple(() =>
        {
            Assert.That(penalized.Probabilities, Is.EqualTo(plain.Probabilities));
            Assert.That(repetition.GetProbability(199), Is.LessThan(plain.GetProbability(199)), "the repetition penalty, by contrast, counts the prompt");
        });
    }

    [Test]
    public async Task Frequency_penalty_discourages_generated_repeats()
    {
        var plain = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 64 });
        var penalized = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 64, FrequencyPenalty = 2, PresencePenalty = 2 });

        Assert.That(penalized.TokenIds.Distinct().Count(), Is.GreaterThan(plain.TokenIds.Distinct().Count() + 10));
    }

    [Test]
    public async Task The_same_seed_gives_the_same_text_with_every_stage_on()
    {
        GenerationOptions Options(int seed) => new()
        {
            Seed = seed, MaxNewTokens = 40, Temperature = 1.1f, TopK = 60, TopP = 0.95f, MinP = 0.01f, TypicalP = 0.95f,
            RepetitionPenalty = 1.1f, FrequencyPenalty = 0.3f, PresencePenalty = 0.2f, NoRepeatNGramSize = 3,
            LogitBias = new Dictionary<int, float> { [Eos] = -5 }, BannedTokenSequences = [[41, 456]], MinNewTokens = 10,
        };

        var a = await Generator.GenerateAsync("ROMEO:", Options(42));
        var b = await Generator.GenerateAsync("ROMEO:", Options(42));
        var c = await Generator.GenerateAsync("ROMEO:", Options(43));

        Assert.Multiple(() =>
        {
            Assert.That(b.Text, Is.EqualTo(a.Text));
            Assert.That(b.TokenIds, Is.EqualTo(a.TokenIds));
            Assert.That(c.TokenIds, Is.Not.EqualTo(a.TokenIds));
        });
    }

    [Test]
    public async Task The_first_streamed_logprob_is_the_log_of_its_probability_in_the_distribution()
    {
        var options = new GenerationOptions { Seed = 5, MaxNewTokens = 1, TopK = 40, Temperature = 1.2f, TopLogprobs = 5 };

        var token = (await StreamAsync("ROMEO:", options))[0];
        var distribution = await Generator.GetNextTokenDistributionAsync("ROMEO:", options);

        Assert.Multiple(() =>
        {
            Assert.That(distribution.IsSampling, Is.True);
            Assert.That(distribution.AllowedTokenIds, Has.Count.EqualTo(40));
            Assert.That(token.Logprob, Is.EqualTo(Math.Log(distribution.GetProbability(token.Id))).Within(1e-5));
            Assert.That(token.Logprob, Is.EqualTo(distribution.GetLogprob(token.Id)));
            var top = distribution.GetTop(5);
            Assert.That(token.TopLogprobs!.Select(t => t.Id), Is.EqualTo(top.Select(t => t.Id)));
            Assert.That(token.TopLogprobs!.Select(t => t.Logprob), Is.EqualTo(top.Select(t => t.Logprob)));
            Assert.That(token.TopLogprobs!.Select(t => t.Text), Is.EqualTo(top.Select(t => t.Text)));
        });
    }

    [Test]
    public async Task Top_logprobs_are_sorted_and_hold_the_greedy_choice_first()
    {
        var tokens = await StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 16, TopLogprobs = 20 });

        Assert.Multiple(() =>
        {
            Assert.That(tokens.Select(t => t.Id), Is.EqualTo(Greedy64.Take(16)));
            foreach (var token in tokens)
            {
                Assert.That(token.TopLogprobs, Has.Count.EqualTo(20));
                Assert.That(token.TopLogprobs!.Select(t => t.Logprob), Is.Ordered.Descending);
                Assert.That(token.TopLogprobs![0].Id, Is.EqualTo(token.Id));
                Assert.That(token.TopLogprobs![0].Logprob, Is.EqualTo(token.Logprob));
                Assert.That(token.Logprob, Is.LessThanOrEqualTo(0f));
                Assert.That(token.TopLogprobs!.Sum(t => Math.Exp(t.Logprob)), Is.LessThanOrEqualTo(1.0 + 1e-5));
            }

            Assert.That(tokens[0].TopLogprobs![0].Text, Is.EqualTo("\n"));
        });
    }

    [Test]
    public async Task Logprobs_are_always_there_and_alternatives_only_when_asked()
    {
        var none = await StreamAsync("ROMEO:", new GenerationOptions { Seed = 1, MaxNewTokens = 3 });
        var zero = await StreamAsync("ROMEO:", new GenerationOptions { Seed = 1, MaxNewTokens = 3, TopLogprobs = 0 });

        Assert.Multiple(() =>
        {
            Assert.That(none.Select(t => t.Logprob), Has.All.Not.Null.And.All.LessThanOrEqualTo(0f));
            Assert.That(none.Select(t => t.TopLogprobs), Has.All.Null);
            Assert.That(zero.Select(t => t.TopLogprobs), Has.All.Not.Null.And.All.Empty);
            Assert.That(zero.Select(t => t.Id), Is.EqualTo(none.Select(t => t.Id)), "asking for logprobs does not change the draws");
        });
    }

    [Test]
    public async Task The_distribution_reproduces_transformers_on_the_recorded_context()
    {
        using var doc = ReferenceData.Load(TestPaths.TinyShakespeare);
        var recorded = doc.RootElement.GetProperty("processors").GetProperty("contexts").GetProperty("king").GetProperty("results");
        var cases = new (string Combo, GenerationOptions Options)[]
        {
            ("top_k_40", new GenerationOptions { DoSample = true, Temperature = 1, TopK = 40 }),
            ("typical_0.9", new GenerationOptions { DoSample = true, Temperature = 1, TopK = 0, TypicalP = 0.9f }),
            ("t0.8_k50_p0.95", new GenerationOptions { DoSample = true, Temperature = 0.8f, TopK = 50, TopP = 0.95f }),
            ("rep1.2_t0.7_p0.9", new GenerationOptions { DoSample = true, RepetitionPenalty = 1.2f, Temperature = 0.7f, TopK = 0, TopP = 0.9f }),
            ("no_repeat_ngram_2", new GenerationOptions { DoSample = true, Temperature = 1, TopK = 0, NoRepeatNGramSize = 2 }),
        };

        foreach (var (combo, options) in cases)
        {
            var distribution = await Generator.GetNextTokenDistributionAsync(GptPrompt.FromTokenIds(KingPrompt), options);
            var expected = recorded.GetProperty(combo);
            Assert.Multiple(() =>
            {
                Assert.That(distribution.AllowedTokenIds, Is.EqualTo(expected.GetProperty("allowed").EnumerateArray().Select(e => e.GetInt32())), combo);
                Assert.That(distribution.Probabilities, Is.EqualTo(expected.GetProperty("probs").EnumerateArray().Select(e => e.GetSingle())).Within(1e-4f), combo);
                Assert.That(distribution.Probabilities.Sum(), Is.EqualTo(1f).Within(1e-5f), combo);
            });
        }
    }

    [Test]
    public async Task The_distribution_api_uses_the_model_defaults_like_sampling_does()
    {
        // generation_config.json: do_sample, temperature 0.8, top_k 40.
        var distribution = await Generator.GetNextTokenDistributionAsync("ROMEO:");

        Assert.Multiple(() =>
        {
            Assert.That(distribution.IsSampling, Is.True);
            Assert.That(distribution.AllowedTokenIds, Has.Count.EqualTo(40));
            Assert.That(distribution.PromptTokenIds, Is.EqualTo(new[] { 859, 26 }));
            Assert.That(distribution.GetTop(3).Select(t => t.Id), Is.EqualTo(new[] { 199, 532, 292 }));
            Assert.That(distribution.GetTop(1)[0].Text, Is.EqualTo("\n"));
            Assert.That(distribution.GetTop(100), Has.Count.EqualTo(40));
            Assert.That(distribution.AllowedTokenIds, Is.Ordered.Ascending);
        });
    }

    [TestCase(nameof(GenerationOptions.TypicalP), 0f)]
    [TestCase(nameof(GenerationOptions.TypicalP), 1.5f)]
    [TestCase(nameof(GenerationOptions.FrequencyPenalty), 2.5f)]
    [TestCase(nameof(GenerationOptions.FrequencyPenalty), float.NaN)]
    [TestCase(nameof(GenerationOptions.PresencePenalty), -3f)]
    [TestCase(nameof(GenerationOptions.NoRepeatNGramSize), -1f)]
    [TestCase(nameof(GenerationOptions.MinNewTokens), -1f)]
    [TestCase(nameof(GenerationOptions.TopLogprobs), 21f)]
    [TestCase(nameof(GenerationOptions.TopLogprobs), -1f)]
    public void Invalid_new_settings_throw_naming_the_setting_before_any_token(string setting, float value)
    {
        var options = new GenerationOptions();
        var property = typeof(GenerationOptions).GetProperty(setting)!;
        property.SetValue(options, property.PropertyType == typeof(int?) ? (object)(int)value : value);

        AssertRejected(options, setting);
    }

    private static IEnumerable<TestCaseData> InvalidCollections()
    {
        yield return new TestCaseData(new GenerationOptions { LogitBias = new Dictionary<int, float> { [-1] = 1 } }, nameof(GenerationOptions.LogitBias)).SetName("Logit_bias_negative_id");
        yield return new TestCaseData(new GenerationOptions { LogitBias = new Dictionary<int, float> { [2048] = 1 } }, nameof(GenerationOptions.LogitBias)).SetName("Logit_bias_outside_vocabulary");
        yield return new TestCaseData(new GenerationOptions { LogitBias = new Dictionary<int, float> { [1] = float.NaN } }, nameof(GenerationOptions.LogitBias)).SetName("Logit_bias_NaN");
        yield return new TestCaseData(new GenerationOptions { BannedTokenSequences = [[]] }, nameof(GenerationOptions.BannedTokenSequences)).SetName("Banned_empty_sequence");
        yield return new TestCaseData(new GenerationOptions { BannedTokenSequences = [[1, -1]] }, nameof(GenerationOptions.BannedTokenSequences)).SetName("Banned_negative_id");
        yield return new TestCaseData(new GenerationOptions { BannedTokenSequences = [[1, 9999]] }, nameof(GenerationOptions.BannedTokenSequences)).SetName("Banned_outside_vocabulary");
    }

    [TestCaseSource(nameof(InvalidCollections))]
    public void Invalid_collections_throw_naming_the_setting(GenerationOptions options, string setting) => AssertRejected(options, setting);

    [Test]
    public void A_null_custom_stage_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new GenerationOptions { CustomStages = [null!] }.Validate());

        Assert.That(ex!.ParamName, Is.EqualTo(nameof(GenerationOptions.CustomStages)));
    }

    [Test]
    public void The_hosting_validator_reports_the_new_settings()
    {
        var options = new GptOptions
        {
            ModelPath = TestPaths.TinyShakespeare,
            Generation = new GenerationOptions { TypicalP = 2, TopLogprobs = 50, LogitBias = new Dictionary<int, float> { [-3] = 1 } },
        };

        var result = new GptOptionsValidator().Validate(Options.DefaultName, options);

        Assert.Multiple(() =>
        {
            Assert.That(result.Failed, Is.True);
            Assert.That(result.Failures, Has.Some.Contains("Generation.TypicalP must be in (0, 1]"));
            Assert.That(result.Failures, Has.Some.Contains("Generation.TopLogprobs must be in [0, 20]"));
            Assert.That(result.Failures, Has.Some.Contains("Generation.LogitBias token ids must be 0 or more"));
        });
    }

    [Test]
    public async Task Application_defaults_fill_the_new_settings()
    {
        using var model = GptModel.Load(new GptOptions
        {
            ModelPath = TestPaths.TinyShakespeare,
            Generation = new GenerationOptions { LogitBias = new Dictionary<int, float> { [199] = float.NegativeInfinity }, DoSample = false },
        });
        var generator = GptGenerator.Create(model);

        var result = await generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 1 });
        var overridden = await generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 1, LogitBias = new Dictionary<int, float>() });

        Assert.Multiple(() =>
        {
            Assert.That(result.TokenIds, Is.EqualTo(new[] { 532 }));
            Assert.That(overridden.TokenIds, Is.EqualTo(new[] { 199 }));
        });
    }

    [Test]
    public async Task A_custom_stage_runs_before_the_warpers()
    {
        // The custom stage keeps only token 41; top-k 40 after it cannot bring anything back.
        var result = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { Seed = 1, MaxNewTokens = 3, TopK = 40, CustomStages = [new OnlyToken(41)] });

        Assert.That(result.TokenIds, Is.EqualTo(new[] { 41, 41, 41 }));
    }

    private void AssertRejected(GenerationOptions options, string setting)
    {
        var ex = Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
        {
            await foreach (var _ in Generator.StreamAsync("ROMEO:", options))
            {
                Assert.Fail("no token may be generated");
            }
        });
        var distributionError = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Generator.GetNextTokenDistributionAsync("ROMEO:", options));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.ParamName, Is.EqualTo(setting));
            Assert.That(ex.Message, Does.Contain(setting));
            Assert.That(distributionError!.ParamName, Is.EqualTo(setting));
        });
    }

    private sealed class OnlyToken(int id) : OnnxGpt.Sampling.ISamplingStage
    {
        public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
        {
            for (var i = 0; i < logits.Length; i++)
            {
                if (i != id)
                {
                    logits[i] = float.NegativeInfinity;
                }
            }
        }
    }
}
