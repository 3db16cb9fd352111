using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

/// <summary>With a ConversationId, a later turn runs only the tokens its prompt adds to what the cache holds.</summary>
[TestFixture]
public sealed class ConversationTests
{
    private const string History = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\nAll:\nResolved. resolved.\n\nFirst Citizen:\nFirst, you know Caius Marcius is chief enemy to the people.\n\nAll:\nWe know't, we know't.\n\nFirst Citizen:\n";

    [TestCase("tiny-shakespeare")]
    [TestCase("tiny-llama-shakespeare")]
    [TestCase("gpt2-tiny-combined")]
    [TestCase("gpt2-tiny-merged")]
    [TestCase("gpt2-tiny-split")]
    public async Task The_second_turn_reuses_the_first_turns_cache_and_gives_the_same_tokens(string fixture)
    {
        using var model = GptModel.Load(fixture == "tiny-shakespeare" ? TestPaths.TinyShakespeare : TestPaths.Fixture(fixture));
        var generator = GptGenerator.Create(model);
        var turn = new GenerationOptions { DoSample = false, MaxNewTokens = 12, ConversationId = "chat-1" };

        var first = await generator.GenerateAsync(History, turn);
        var secondPrompt = History + first.Text + "\n\nAll:\n";
        var second = await generator.GenerateAsync(secondPrompt, turn);
        var fresh = await generator.GenerateAsync(secondPrompt, new GenerationOptions { DoSample = false, MaxNewTokens = 12 });

        TestContext.Out.WriteLine($"{fixture}: second turn reused {second.ReusedPromptTokenCount} of {second.PromptTokenCount} prompt tokens; time to first token {second.TimeToFirstToken.TotalMilliseconds:F2} ms vs {fresh.TimeToFirstToken.TotalMilliseconds:F2} ms from scratch");
        Assert.Multiple(() =>
        {
            Assert.That(first.ReusedPromptTokenCount, Is.Zero);
            Assert.That(second.ReusedPromptTokenCount, Is.GreaterThanOrEqualTo(first.PromptTokenCount));
            Assert.That(second.ReusedPromptTokenCount, Is.LessThan(second.PromptTokenCount));
            Assert.That(second.TokenIds, Is.EqualTo(fresh.TokenIds));
            Assert.That(second.Text, Is.EqualTo(fresh.Text));
            Assert.That(model.CacheStatistics.Conversations, Is.EqualTo(1));
        });
    }

    [Test]
    public async Task A_prompt_that_extends_the_processed_tokens_exactly_reuses_all_of_them()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var turn = new GenerationOptions { DoSample = false, MaxNewTokens = 10, ConversationId = "ids" };
        int[] prompt = [859, 26];

        var first = await generator.GenerateAsync(prompt, turn);
        var second = await generator.GenerateAsync([.. prompt, .. first.TokenIds, 199], turn);

        // The cache holds the prompt and every generated token but the last, which was never fed.
        Assert.That(second.ReusedPromptTokenCount, Is.EqualTo(prompt.Length + first.TokenIds.Count - 1));
    }

    [Test]
    public async Task A_batch_row_with_a_conversation_id_continues_that_conversation_beside_a_fresh_row()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        var turn = new GenerationOptions { DoSample = false, MaxNewTokens = 12, ConversationId = "batch-1" };
        var plain = new GenerationOptions { DoSample = false, MaxNewTokens = 12 };
        var first = await generator.GenerateAsync(History, turn);
        var secondPrompt = History + first.Text + "\n\nAll:\n";

        var batch = await generator.GenerateBatchAsync([secondPrompt, "ROMEO:"], [turn, plain]);
        var fresh = await generator.GenerateAsync(secondPrompt, plain);
        var other = await generator.GenerateAsync("ROMEO:", plain);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(batch[0].ReusedPromptTokenCount, Is.EqualTo(first.PromptTokenCount + first.TokenIds.Count - 1));
            Assert.That(batch[0].TokenIds, Is.EqualTo(fresh.TokenIds));
            Assert.That(batch[1].ReusedPromptTokenCount, Is.Zero);
            Assert.That(batch[1].TokenIds, Is.EqualTo(other.TokenIds));
            Assert.That(model.CacheStatistics.Conversations, Is.EqualTo(1));
        }
    }

    [Test]
    public async Task A_different_prompt_or_an_evicted_conversation_starts_afresh()
    {
        using var model = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, MaxKeptConversations = 1 });
        var generator = GptGenerator.Create(model);
        await generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 4, ConversationId = "a" });
        await generator.GenerateAsync("JULIET:", new GenerationOptions { MaxNewTokens = 4, ConversationId = "b" });

        var evicted = await generator.GenerateAsync("ROMEO: and more", new GenerationOptions { MaxNewTokens = 4, ConversationId = "a" });
        var unrelated = await generator.GenerateAsync("KING RICHARD III:", new GenerationOptions { MaxNewTokens = 4, ConversationId = "a" });

        Assert.Multiple(() =>
        {
            Assert.That(evicted.ReusedPromptTokenCount, Is.Zero);
            Assert.That(unrelated.ReusedPromptTokenCount, Is.Zero);
            Assert.That(model.CacheStatistics.Conversations, Is.EqualTo(1));
        });
    }

    [Test]
    public void A_cancelled_turn_keeps_nothing()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var cts = new CancellationTokenSource();
        var generator = GptGenerator.Create(model);

        Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var token in generator.StreamAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 50, ConversationId = "c" }, cts.Token))
            {
                await cts.CancelAsync();
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(model.CacheStatistics.Conversations, Is.Zero);
            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }
}
