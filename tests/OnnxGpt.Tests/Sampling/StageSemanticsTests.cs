using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Sampling;

/// <summary>Each stage on small hand-made scores, with the values worked out by hand from transformers' definitions.</summary>
[TestFixture]
public sealed class StageSemanticsTests
{
    private const float NegInf = float.NegativeInfinity;

    /// <summary>Probabilities 1/2, 1/4, 1/8, 1/8: entropy 1.75 bits, so the distances |-log2 p - H| are 0.75, 0.25, 1.25, 1.25 bits.</summary>
    private static float[] TypicalLogits() => [MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.125f), MathF.Log(0.125f)];

    private static int[] Allowed(float[] logits) => [.. Enumerable.Range(0, logits.Length).Where(i => !float.IsNegativeInfinity(logits[i]))];

    private static float[] Softmax(float[] logits)
    {
        var max = logits.Max();
        var e = logits.Select(l => float.IsNegativeInfinity(l) ? 0.0 : Math.Exp(l - max)).ToArray();
        var sum = e.Sum();
        return [.. e.Select(x => (float)(x / sum))];
    }

    [Test]
    public void Typical_p_keeps_the_tokens_closest_to_the_entropy_not_the_most_likely()
    {
        // Sorted by distance: token 1 (p 1/4), token 0 (1/2), tokens 2 and 3 (1/8 each). Cumulative 0.25, 0.75, 0.875, 1.
        var small = TypicalLogits();
        new TypicalPStage(0.2f).Apply(small, []);
        var half = TypicalLogits();
        new TypicalPStage(0.5f).Apply(half, []);
        var most = TypicalLogits();
        new TypicalPStage(0.8f).Apply(most, []);

        Assert.Multiple(() =>
        {
            Assert.That(Allowed(small), Is.EqualTo(new[] { 1 }), "mass 0.2: only the most typical token, which is not the most likely");
            Assert.That(Allowed(half), Is.EqualTo(new[] { 0, 1 }), "mass 0.5: 0.25 < 0.5, so the second-closest is the last kept");
            Assert.That(Allowed(most), Is.EqualTo(new[] { 0, 1, 2, 3 }), "mass 0.8: the last kept ties with token 3, and ties are kept");
            Assert.That(half[0], Is.EqualTo(MathF.Log(0.5f)), "kept scores are unchanged");
        });
    }

    [Test]
    public void Typical_p_keeps_min_tokens_to_keep_in_typicality_order()
    {
        var logits = TypicalLogits();

        new TypicalPStage(0.2f, minTokensToKeep: 2).Apply(logits, []);

        Assert.That(Allowed(logits), Is.EqualTo(new[] { 0, 1 }));
    }

    [Test]
    public void Typical_p_ignores_tokens_already_removed()
    {
        float[] logits = [MathF.Log(0.5f), MathF.Log(0.25f), MathF.Log(0.125f), MathF.Log(0.125f), NegInf];

        new TypicalPStage(0.2f).Apply(logits, []);

        Assert.That(Allowed(logits), Is.EqualTo(new[] { 1 }));
    }

    [Test]
    public void Frequency_and_presence_penalties_count_only_generated_tokens()
    {
        float[] logits = [1, 1, 1, 1];

        // Prompt [0, 0]; generated [1, 1, 2]: token 1 twice, token 2 once, token 0 only in the prompt.
        new FrequencyPresencePenaltyStage(0.5f, 0.25f, promptTokenCount: 2).Apply(logits, [0, 0, 1, 1, 2]);

        Assert.That(logits, Is.EqualTo(new[] { 1f, 1 - ((2 * 0.5f) + 0.25f), 1 - (0.5f + 0.25f), 1f }));
    }

    [Test]
    public void Negative_frequency_penalty_encourages_repetition_and_is_stateless_across_calls()
    {
        var stage = new FrequencyPresencePenaltyStage(-1f, 0f, promptTokenCount: 0);
        float[] first = [0, 0, 0];
        float[] second = [0, 0, 0];

        stage.Apply(first, [2, 2, 2]);
        stage.Apply(second, [2]);

        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(new[] { 0f, 0f, 3f }));
            Assert.That(second, Is.EqualTo(new[] { 0f, 0f, 1f }), "counts are not carried over from the previous call");
        });
    }

    [Test]
    public void No_repeat_ngram_bans_the_token_that_would_repeat_an_ngram()
    {
        float[] trigram = [0, 0, 0, 0, 0];
        new NoRepeatNGramStage(3).Apply(trigram, [1, 2, 3, 1, 2]);
        float[] bigram = [0, 0, 0, 0, 0];
        new NoRepeatNGramStage(2).Apply(bigram, [1, 2, 1, 3, 1]);
        float[] unigram = [0, 0, 0, 0, 0];
        new NoRepeatNGramStage(1).Apply(unigram, [4, 1]);
        float[] shortSequence = [0, 0, 0, 0, 0];
        new NoRepeatNGramStage(4).Apply(shortSequence, [1, 1]);

        Assert.Multiple(() =>
        {
            Assert.That(Allowed(trigram), Is.EqualTo(new[] { 0, 1, 2, 4 }), "[1 2 3] exists and the sequence ends with [1 2]");
            Assert.That(Allowed(bigram), Is.EqualTo(new[] { 0, 1, 4 }), "[1 2] and [1 3] exist and the sequence ends with 1");
            Assert.That(Allowed(unigram), Is.EqualTo(new[] { 0, 2, 3 }), "size 1 bans every token seen");
            Assert.That(Allowed(shortSequence), Is.EqualTo(new[] { 0, 1, 2, 3, 4 }), "a sequence shorter than n - 1 bans nothing");
        });
    }

    [Test]
    public void Logit_bias_adds_to_the_given_tokens_only()
    {
        float[] logits = [1, 2, 3, 4];

        new LogitBiasStage(new Dictionary<int, float> { [0] = 10, [2] = -1.5f, [3] = NegInf, [99] = 5 }).Apply(logits, []);

        Assert.That(logits, Is.EqualTo(new[] { 11f, 2f, 1.5f, NegInf }));
    }

    [Test]
    public void Banned_sequences_ban_single_tokens_always_and_longer_ones_after_their_prefix()
    {
        var stage = new BannedSequencesStage([[4], [1, 2, 3], [2, 0]]);
        float[] afterPrefix = [0, 0, 0, 0, 0];
        stage.Apply(afterPrefix, [0, 1, 2]);
        float[] otherwise = [0, 0, 0, 0, 0];
        stage.Apply(otherwise, [0, 2, 1]);
        float[] contextShorterThanSequence = [0, 0, 0, 0, 0];
        stage.Apply(contextShorterThanSequence, [0, 2]);

        Assert.Multiple(() =>
        {
            Assert.That(Allowed(afterPrefix), Is.EqualTo(new[] { 1, 2 }), "[0 1 2] ends with [1 2] and with [2]: bans 3 and 0; 4 always");
            Assert.That(Allowed(otherwise), Is.EqualTo(new[] { 0, 1, 2, 3 }), "no prefix matches: only the single token 4");
            Assert.That(Allowed(contextShorterThanSequence), Is.EqualTo(new[] { 1, 2, 3 }), "[0 2] ends with [2 0]'s prefix; [1 2 3] is longer than the context");
        });
    }

    [Test]
    public void Banned_sequences_longer_than_the_context_are_ignored_as_in_transformers()
    {
        float[] logits = [0, 0, 0, 0];

        // The context [1 2] is [1 2 3]'s whole prefix, but the sequence is longer than the context.
        new BannedSequencesStage([[1, 2, 3]]).Apply(logits, [1, 2]);

        Assert.That(Allowed(logits), Is.EqualTo(new[] { 0, 1, 2, 3 }));
    }

    [Test]
    public void Min_new_tokens_removes_eos_until_enough_tokens_were_generated()
    {
        var stage = new MinNewTokensStage(2, promptTokenCount: 3, eosTokenIds: [0, 3]);
        float[] afterOne = [5, 1, 1, 5];
        stage.Apply(afterOne, [7, 7, 7, 1]);
        float[] afterTwo = [5, 1, 1, 5];
        stage.Apply(afterTwo, [7, 7, 7, 1, 2]);

        Assert.Multiple(() =>
        {
            Assert.That(afterOne, Is.EqualTo(new[] { NegInf, 1, 1, NegInf }));
            Assert.That(afterTwo, Is.EqualTo(new[] { 5f, 1, 1, 5 }));
        });
    }

    [Test]
    public void Top_k_then_temperature_equals_temperature_then_top_k()
    {
        float[] raw = [2, 1, 0.5f, 3, -1, 0.25f];
        var kFirst = (float[])raw.Clone();
        new TopKStage(3).Apply(kFirst, []);
        new TemperatureStage(0.5f).Apply(kFirst, []);
        var tFirst = (float[])raw.Clone();
        new TemperatureStage(0.5f).Apply(tFirst, []);
        new TopKStage(3).Apply(tFirst, []);

        Assert.Multiple(() =>
        {
            Assert.That(Allowed(kFirst), Is.EqualTo(new[] { 0, 1, 3 }));
            Assert.That(Allowed(tFirst), Is.EqualTo(Allowed(kFirst)), "temperature keeps the order, so the same K survive");
            Assert.That(Softmax(tFirst), Is.EqualTo(Softmax(kFirst)).Within(1e-6f), "and their probabilities agree too");
        });
    }

    [Test]
    public void Top_p_before_or_after_temperature_keeps_different_tokens()
    {
        // Probabilities about 0.58, 0.21, 0.13, 0.08: top-p 0.7 keeps two tokens; at temperature 0.5 the first holds 0.85 alone.
        float[] raw = [2, 1, 0.5f, 0];
        var pFirst = (float[])raw.Clone();
        new TopPStage(0.7f).Apply(pFirst, []);
        new TemperatureStage(0.5f).Apply(pFirst, []);
        var tFirst = (float[])raw.Clone();
        new TemperatureStage(0.5f).Apply(tFirst, []);
        new TopPStage(0.7f).Apply(tFirst, []);

        Assert.Multiple(() =>
        {
            Assert.That(Allowed(pFirst), Is.EqualTo(new[] { 0, 1 }));
            Assert.That(Allowed(tFirst), Is.EqualTo(new[] { 0 }));
        });
    }

    [Test]
    public void Min_p_then_temperature_differs_from_temperature_then_min_p()
    {
        // p = 0.665, 0.245, 0.09: min-p 0.2 keeps p >= 0.133 (two tokens); at temperature 2 the ratios flatten and all three stay.
        float[] raw = [2, 1, 0];
        var mFirst = (float[])raw.Clone();
        new MinPStage(0.2f).Apply(mFirst, []);
        new TemperatureStage(2f).Apply(mFirst, []);
        var tFirst = (float[])raw.Clone();
        new TemperatureStage(2f).Apply(tFirst, []);
        new MinPStage(0.2f).Apply(tFirst, []);

        Assert.Multiple(() =>
        {
            Assert.That(Allowed(mFirst), Is.EqualTo(new[] { 0, 1 }));
            Assert.That(Allowed(tFirst), Is.EqualTo(new[] { 0, 1, 2 }));
        });
    }

    [Test]
    public void Top_p_keeps_min_tokens_to_keep_and_ties_follow_the_sorted_order()
    {
        float[] logits = [3, 0, 0, 0];
        new TopPStage(0.5f, minTokensToKeep: 2).Apply(logits, []);

        Assert.That(Allowed(logits), Has.Length.EqualTo(2).And.Contains(0));
    }

    [Test]
    public void Min_p_keeps_ties_with_the_threshold()
    {
        // Equal scores have equal probabilities: both pass min-p 1, which keeps exactly the most likely ones.
        float[] logits = [1, 3, 3, 2];
        new MinPStage(1f).Apply(logits, []);

        Assert.That(Allowed(logits), Is.EqualTo(new[] { 1, 2 }));
    }

    private static IEnumerable<TestCaseData> InvalidStages()
    {
        yield return new TestCaseData(new Action(() => _ = new TypicalPStage(0f)), "mass").SetName("Typical_p_0");
        yield return new TestCaseData(new Action(() => _ = new TypicalPStage(1f)), "mass").SetName("Typical_p_1");
        yield return new TestCaseData(new Action(() => _ = new TypicalPStage(float.NaN)), "mass").SetName("Typical_p_NaN");
        yield return new TestCaseData(new Action(() => _ = new TypicalPStage(0.5f, 0)), "minTokensToKeep").SetName("Typical_p_min_tokens_0");
        yield return new TestCaseData(new Action(() => _ = new FrequencyPresencePenaltyStage(2.5f, 0)), "frequencyPenalty").SetName("Frequency_2_5");
        yield return new TestCaseData(new Action(() => _ = new FrequencyPresencePenaltyStage(0, float.NaN)), "presencePenalty").SetName("Presence_NaN");
        yield return new TestCaseData(new Action(() => _ = new FrequencyPresencePenaltyStage(0, 0, -1)), "promptTokenCount").SetName("Penalty_prompt_negative");
        yield return new TestCaseData(new Action(() => _ = new NoRepeatNGramStage(0)), "ngramSize").SetName("NGram_0");
        yield return new TestCaseData(new Action(() => _ = new LogitBiasStage(new Dictionary<int, float> { [-1] = 1 })), "bias").SetName("Logit_bias_negative_id");
        yield return new TestCaseData(new Action(() => _ = new LogitBiasStage(new Dictionary<int, float> { [1] = float.NaN })), "bias").SetName("Logit_bias_NaN");
        yield return new TestCaseData(new Action(() => _ = new BannedSequencesStage([[]])), "sequences").SetName("Banned_empty");
        yield return new TestCaseData(new Action(() => _ = new BannedSequencesStage([[1, -2]])), "sequences").SetName("Banned_negative");
        yield return new TestCaseData(new Action(() => _ = new MinNewTokensStage(-1, 0, [0])), "minNewTokens").SetName("Min_new_tokens_negative");
    }

    [TestCaseSource(nameof(InvalidStages))]
    public void Invalid_stage_settings_name_the_setting(Action create, string parameter) =>
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => create())!.ParamName, Is.EqualTo(parameter));

    [Test]
    public void Stages_do_not_allocate_per_call_after_the_first()
    {
        var rng = new Random(5);
        var logits = new float[2048];
        var work = new float[2048];
        for (var i = 0; i < logits.Length; i++)
        {
            logits[i] = (float)(rng.NextDouble() * 10);
        }

        int[] ids = [.. Enumerable.Range(0, 64).Select(i => (i * 37) % 2048)];
        ISamplingStage[] stages =
        [
            new RepetitionPenaltyStage(1.3f), new FrequencyPresencePenaltyStage(0.5f, 0.5f, 10), new NoRepeatNGramStage(2),
            new BannedSequencesStage([[5], [1, 2]]), new MinNewTokensStage(100, 10, [0]), new LogitBiasStage(new Dictionary<int, float> { [3] = 2 }),
            new TemperatureStage(0.7f), new TopKStage(50), new TopPStage(0.9f), new MinPStage(0.01f), new TypicalPStage(0.95f),
        ];

        void RunAll()
        {
            logits.CopyTo(work, 0);
            foreach (var stage in stages)
            {
                stage.Apply(work, ids);
            }
        }

        RunAll();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++)
        {
            RunAll();
        }

        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero);
    }
}
