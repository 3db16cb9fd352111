using OnnxGpt.Generation;

namespace OnnxGpt.GenAI.Tests;

/// <summary>
/// With a ConversationId, the GenAI backend keeps the request's onnxruntime-genai generator, and the conversation's
/// next request rewinds it to the shared prefix and runs only the tokens its prompt adds.
/// </summary>
public class ConversationTests
{
    private const string History = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\nFirst Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know't, we know't.\n\nFirst Citizen:\n";

    private static GenerationOptions Turn(string? conversation, int maxNewTokens = 12) =>
        new() { DoSample = false, MaxNewTokens = maxNewTokens, ConversationId = conversation };

    /// <summary>
    /// What a turn reuses from the previous one: the prefix its prompt shares with the previous sequence (prompt and
    /// reply), at most the previous sequence less two tokens (its cache lacks the last, and onnxruntime-genai rewinds
    /// only below the cache's length) and the prompt less one (one token is always run).
    /// </summary>
    private static int Expected(GenerationResult previous, GenerationResult next)
    {
        int[] held = [.. previous.PromptTokenIds, .. previous.TokenIds];
        var limit = Math.Min(held.Length - 2, next.PromptTokenCount - 1);
        var shared = 0;
        while (shared < limit && held[shared] == next.PromptTokenIds[shared])
        {
            shared++;
        }

        return shared;
    }

    [Test]
    public async Task The_second_turn_reuses_the_first_turns_generator_and_gives_the_same_tokens_as_a_fresh_request()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);

        // Warm up, so that neither timing below pays for the first run.
        await generator.GenerateAsync(History, Turn(null, 2));

        var first = await generator.GenerateAsync(History, Turn("chat-1"));
        var secondPrompt = History + first.Text + "\n\nAll:\n";
        var second = await generator.GenerateAsync(secondPrompt, Turn("chat-1"));
        var fresh = await generator.GenerateAsync(secondPrompt, Turn(null));

        TestContext.Out.WriteLine($"tiny-shakespeare (onnxruntime-genai): second turn reused {second.ReusedPromptTokenCount} of {second.PromptTokenCount} prompt tokens; time to first token {second.TimeToFirstToken.TotalMilliseconds:F2} ms vs {fresh.TimeToFirstToken.TotalMilliseconds:F2} ms from scratch");
        Assert.Multiple(() =>
        {
            Assert.That(first.ReusedPromptTokenCount, Is.Zero);
            Assert.That(second.ReusedPromptTokenCount, Is.EqualTo(Expected(first, second)));
            Assert.That(second.ReusedPromptTokenCount, Is.GreaterThanOrEqualTo(first.PromptTokenCount));
            Assert.That(second.ReusedPromptTokenCount, Is.LessThan(second.PromptTokenCount));
            Assert.That(fresh.ReusedPromptTokenCount, Is.Zero);
            Assert.That(second.PromptTokenIds, Is.EqualTo(fresh.PromptTokenIds));
            Assert.That(second.TokenIds, Is.EqualTo(fresh.TokenIds));
            Assert.That(second.Text, Is.EqualTo(fresh.Text));
            Assert.That(second.FinishReason, Is.EqualTo(fresh.FinishReason));
            Assert.That(generator.KeptConversationCount, Is.EqualTo(1));
        });
    }

    [TestCase("tiny-shakespeare")]
    [TestCase("gpt2-tiny")]
    public async Task A_prompt_that_extends_the_whole_sequence_reuses_all_but_its_last_two_tokens(string fixture)
    {
        var c = Fixtures.Greedy(fixture, fixture == "gpt2-tiny" ? Fixtures.Gpt2Tiny : Fixtures.TinyShakespeare).First();
        using var generator = Fixtures.Create(c.Directory);

        var first = await generator.GenerateAsync(c.PromptIds, Turn("ids", 10));
        int[] next = [.. c.PromptIds, .. first.TokenIds, 199, 300];
        var second = await generator.GenerateAsync(next, Turn("ids", 10));
        var fresh = await generator.GenerateAsync(next, Turn(null, 10));

        Assert.Multiple(() =>
        {
            Assert.That(first.TokenIds, Is.EqualTo(c.GreedyIds.Take(10)), "the first turn gives the reference ids");
            Assert.That(second.ReusedPromptTokenCount, Is.EqualTo(c.PromptIds.Length + 10 - 2));
            Assert.That(second.TokenIds, Is.EqualTo(fresh.TokenIds));
        });
    }

    [Test]
    public async Task A_prompt_diverging_early_cuts_the_generator_back_and_still_equals_a_fresh_request()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);

        var first = await generator.GenerateAsync(History, Turn("diverge"));
        const string other = "First Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\n";
        var second = await generator.GenerateAsync(other, Turn("diverge"));
        var fresh = await generator.GenerateAsync(other, Turn(null));

        // Then the conversation goes on from the cut-back turn.
        var thirdPrompt = other + second.Text + "\n\nFirst Citizen:\n";
        var third = await generator.GenerateAsync(thirdPrompt, Turn("diverge"));
        var thirdFresh = await generator.GenerateAsync(thirdPrompt, Turn(null));

        Assert.Multiple(() =>
        {
            // "First Citizen:\n" is [672, 1197, 26, 199]; the prompts part at the next token.
            Assert.That(second.PromptTokenIds.Take(4), Is.EqualTo(new[] { 672, 1197, 26, 199 }));
            Assert.That(first.PromptTokenIds[4], Is.Not.EqualTo(second.PromptTokenIds[4]));
            Assert.That(second.ReusedPromptTokenCount, Is.EqualTo(4));
            Assert.That(second.TokenIds, Is.EqualTo(fresh.TokenIds));
            Assert.That(third.ReusedPromptTokenCount, Is.EqualTo(Expected(second, third)));
            Assert.That(third.ReusedPromptTokenCount, Is.GreaterThanOrEqualTo(second.PromptTokenCount));
            Assert.That(third.TokenIds, Is.EqualTo(thirdFresh.TokenIds));
        });
    }

    [Test]
    public async Task With_MaxKeptConversations_1_the_least_recently_used_conversation_is_evicted()
    {
        using var generator = GenAIGenerator.Create(new GptOptions { ModelPath = Fixtures.TinyShakespeare, MaxKeptConversations = 1 });

        var a1 = await generator.GenerateAsync("ROMEO:", Turn("a", 6));
        var b1 = await generator.GenerateAsync("JULIET:", Turn("b", 6));
        var a2 = await generator.GenerateAsync("ROMEO:" + a1.Text + "\nJULIET:", Turn("a", 6));
        var b2 = await generator.GenerateAsync("JULIET:" + b1.Text + "\nROMEO:", Turn("b", 6));
        var b3 = await generator.GenerateAsync("JULIET:" + b1.Text + "\nROMEO:" + b2.Text + "\nJULIET:", Turn("b", 6));

        Assert.Multiple(() =>
        {
            Assert.That(a2.ReusedPromptTokenCount, Is.Zero, "b's turn evicted a");
            Assert.That(b2.ReusedPromptTokenCount, Is.Zero, "a's second turn evicted b");
            Assert.That(b3.ReusedPromptTokenCount, Is.EqualTo(Expected(b2, b3)));
            Assert.That(b3.ReusedPromptTokenCount, Is.GreaterThanOrEqualTo(b2.PromptTokenCount));
            Assert.That(generator.KeptConversationCount, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_turn_cancelled_midway_drops_the_conversation()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        using var cts = new CancellationTokenSource();
        var first = await generator.GenerateAsync(History, Turn("c"));
        var secondPrompt = History + first.Text + "\n\nAll:\n";
        Assert.That(generator.KeptConversationCount, Is.EqualTo(1));

        var seen = 0;
        var ex = Assert.ThrowsAsync<GenerationCanceledException>(async () =>
        {
            await foreach (var token in generator.StreamAsync(secondPrompt, Turn("c", 50), cts.Token))
            {
                if (++seen == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        var dropped = generator.KeptConversationCount;
        var third = await generator.GenerateAsync(secondPrompt, Turn("c"));
        var fresh = await generator.GenerateAsync(secondPrompt, Turn(null));

        Assert.Multiple(() =>
        {
            Assert.That(seen, Is.EqualTo(3));
            Assert.That(ex!.PartialResult!.ReusedPromptTokenCount, Is.EqualTo(Expected(first, ex.PartialResult)), "the cancelled turn had resumed the conversation");
            Assert.That(dropped, Is.Zero);
            Assert.That(third.ReusedPromptTokenCount, Is.Zero);
            Assert.That(third.TokenIds, Is.EqualTo(fresh.TokenIds));
            Assert.That(generator.KeptConversationCount, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_turn_abandoned_midway_keeps_nothing()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        await foreach (var token in generator.StreamAsync("ROMEO:", Turn("abandoned", 50)))
        {
            if (token.Index == 2)
            {
                break;
            }
        }

        var next = await generator.GenerateAsync("ROMEO: and more", Turn("abandoned"));

        Assert.That(next.ReusedPromptTokenCount, Is.Zero);
    }

    [Test]
    public async Task Requests_without_a_ConversationId_or_with_MaxKeptConversations_0_keep_nothing()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        using var none = GenAIGenerator.Create(new GptOptions { ModelPath = Fixtures.TinyShakespeare, MaxKeptConversations = 0 });

        var first = await generator.GenerateAsync(History, Turn(null));
        var second = await generator.GenerateAsync(History + first.Text, Turn(null));
        var noneFirst = await none.GenerateAsync(History, Turn("x"));
        var noneSecond = await none.GenerateAsync(History + noneFirst.Text, Turn("x"));

        Assert.Multiple(() =>
        {
            Assert.That(first.ReusedPromptTokenCount, Is.Zero);
            Assert.That(second.ReusedPromptTokenCount, Is.Zero);
            Assert.That(generator.KeptConversationCount, Is.Zero);
            Assert.That(noneSecond.ReusedPromptTokenCount, Is.Zero);
            Assert.That(noneSecond.TokenIds, Is.EqualTo(second.TokenIds));
            Assert.That(none.KeptConversationCount, Is.Zero);
        });
    }

    [Test]
    public async Task A_conversation_in_use_is_not_shared_with_a_concurrent_request()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        var first = await generator.GenerateAsync(History, Turn("busy"));
        var secondPrompt = History + first.Text + "\n\nAll:\n";

        GenerationResult? concurrent = null;
        GenerationResult? second = null;
        await foreach (var token in generator.StreamAsync(secondPrompt, Turn("busy")))
        {
            if (token.Index == 0)
            {
                concurrent = await generator.GenerateAsync(secondPrompt, Turn("busy"));
            }

            second = token.Result ?? second;
        }

        Assert.Multiple(() =>
        {
            Assert.That(second!.ReusedPromptTokenCount, Is.EqualTo(Expected(first, second)));
            Assert.That(second.ReusedPromptTokenCount, Is.GreaterThan(0));
            Assert.That(concurrent!.ReusedPromptTokenCount, Is.Zero, "the running turn holds the conversation's generator");
            Assert.That(concurrent.TokenIds, Is.EqualTo(second.TokenIds));
            Assert.That(generator.KeptConversationCount, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task Different_search_options_or_a_seed_start_afresh_and_seeded_output_repeats()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        var first = await generator.GenerateAsync(History, Turn("opts"));
        var secondPrompt = History + first.Text + "\n\nAll:\n";

        var penalised = new GenerationOptions { DoSample = false, MaxNewTokens = 12, RepetitionPenalty = 1.3f, ConversationId = "opts" };
        var second = await generator.GenerateAsync(secondPrompt, penalised);
        var secondFresh = await generator.GenerateAsync(secondPrompt, new GenerationOptions { DoSample = false, MaxNewTokens = 12, RepetitionPenalty = 1.3f });

        // The penalised turn replaced the kept generator: a third turn with the same settings continues it.
        var thirdPrompt = secondPrompt + second.Text + "\n\nFirst Citizen:\n";
        var third = await generator.GenerateAsync(thirdPrompt, penalised);
        var thirdFresh = await generator.GenerateAsync(thirdPrompt, new GenerationOptions { DoSample = false, MaxNewTokens = 12, RepetitionPenalty = 1.3f });

        var seeded = new GenerationOptions { DoSample = true, Temperature = 1.2f, TopK = 40, Seed = 7, MaxNewTokens = 12, ConversationId = "opts" };
        var sampled = await generator.GenerateAsync(thirdPrompt + third.Text, seeded);
        var sampledFresh = await generator.GenerateAsync(thirdPrompt + third.Text, new GenerationOptions { DoSample = true, Temperature = 1.2f, TopK = 40, Seed = 7, MaxNewTokens = 12 });

        Assert.Multiple(() =>
        {
            Assert.That(second.ReusedPromptTokenCount, Is.Zero);
            Assert.That(second.TokenIds, Is.EqualTo(secondFresh.TokenIds));
            Assert.That(third.ReusedPromptTokenCount, Is.EqualTo(Expected(second, third)));
            Assert.That(third.ReusedPromptTokenCount, Is.GreaterThanOrEqualTo(second.PromptTokenCount));
            Assert.That(third.TokenIds, Is.EqualTo(thirdFresh.TokenIds));
            Assert.That(sampled.ReusedPromptTokenCount, Is.Zero);
            Assert.That(sampled.TokenIds, Is.EqualTo(sampledFresh.TokenIds));
        });
    }

    [Test]
    public async Task Disposing_the_generator_disposes_kept_and_running_conversations()
    {
        var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        await generator.GenerateAsync("ROMEO:", Turn("kept", 4));
        var count = 0;
        Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var token in generator.StreamAsync("JULIET:", Turn("running", 50)))
            {
                if (++count == 2)
                {
                    generator.Dispose();
                    Assert.That(generator.KeptConversationCount, Is.Zero);
                }
            }
        });

        Assert.That(generator.KeptConversationCount, Is.Zero);
        generator.Dispose();
    }

    [Test]
    public async Task Both_backends_keep_and_evict_the_same_conversations()
    {
        // One policy: GptOptions.MaxKeptConversations, least recently used evicted, on OnnxGpt's engine and GenAI's.
        using var model = GptModel.Load(new GptOptions { ModelPath = Fixtures.TinyShakespeare, MaxKeptConversations = 2 });
        var core = GptGenerator.Create(model);
        using var genai = GenAIGenerator.Create(new GptOptions { ModelPath = Fixtures.TinyShakespeare, MaxKeptConversations = 2 });
        string[] plan = ["a", "b", "c", "a", "c", "b", "c", "a"];

        async Task<bool[]> Reuses(IGptGenerator generator)
        {
            var text = new Dictionary<string, string> { ["a"] = "ROMEO:", ["b"] = "JULIET:", ["c"] = "First Citizen:" };
            var reused = new List<bool>();
            foreach (var conversation in plan)
            {
                var result = await generator.GenerateAsync(text[conversation], Turn(conversation, 4));
                reused.Add(result.ReusedPromptTokenCount > 0);
                text[conversation] += result.Text + "\nAll:";
            }

            return [.. reused];
        }

        var onCore = await Reuses(core);
        var onGenAI = await Reuses(genai);

        Assert.Multiple(() =>
        {
            // c's second turn made a the least recently used: b's second turn evicted a, not c.
            Assert.That(onCore, Is.EqualTo(new[] { false, false, false, false, true, false, true, false }));
            Assert.That(onGenAI, Is.EqualTo(onCore));
            Assert.That(model.CacheStatistics.Conversations, Is.EqualTo(2));
            Assert.That(genai.KeptConversationCount, Is.EqualTo(2));
        });
    }
}
