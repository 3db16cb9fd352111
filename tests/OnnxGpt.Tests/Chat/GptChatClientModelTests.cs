using Microsoft.Extensions.AI;
using OnnxGpt.Chat;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Chat;

/// <summary>The chat client over the embedded tiny-shakespeare model.</summary>
[TestFixture]
public sealed class GptChatClientModelTests : TinyShakespeareFixture
{
    [Test]
    public async Task A_greedy_reply_is_the_generator_output_for_the_rendered_prompt()
    {
        using var client = new GptChatClient(Generator);
        ChatMessage[] messages = [new(ChatRole.User, "ROMEO:")];

        var response = await client.GetResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 24 });
        var expected = await Generator.GenerateAsync("User: ROMEO:\nAssistant:", new GenerationOptions { DoSample = false, MaxNewTokens = 24, StopSequences = ["\nUser:"] });

        var streamed = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(messages, new ChatOptions { Temperature = 0, MaxOutputTokens = 24 }))
        {
            streamed.Add(update);
        }

        Assert.Multiple(() =>
        {
            Assert.That(client.ModelId, Is.EqualTo("tiny-shakespeare"));
            Assert.That(client.Template, Is.InstanceOf<PlainChatTemplate>());
            Assert.That(response.Text, Is.Not.Empty);
            Assert.That(response.Text, Is.EqualTo(expected.Text));
            Assert.That(response.Usage!.InputTokenCount, Is.EqualTo(expected.PromptTokenCount));
            Assert.That(response.Usage.OutputTokenCount, Is.EqualTo(expected.GeneratedTokenCount));
            Assert.That(response.FinishReason, Is.EqualTo(expected.FinishReason == FinishReason.Length ? ChatFinishReason.Length : ChatFinishReason.Stop));
            Assert.That(string.Concat(streamed.Select(u => u.Text)), Is.EqualTo(expected.Text));
            Assert.That(streamed[^1].FinishReason, Is.EqualTo(response.FinishReason));
        });
    }

    [Test]
    public async Task Cancelling_a_stream_throws_and_returns_the_cache()
    {
        using var client = new GptChatClient(Generator);
        using var cts = new CancellationTokenSource();
        var received = 0;

        var ex = Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "ROMEO:")], new ChatOptions { Temperature = 0, MaxOutputTokens = 200, StopSequences = [] }, cts.Token))
            {
                if (++received == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(ex, Is.InstanceOf<GenerationCanceledException>());
            Assert.That(received, Is.EqualTo(3));
            Assert.That(Model.Runtime.CachePool.Rented, Is.Zero);
        });
        await Task.CompletedTask;
    }

    [Test]
    public async Task A_conversation_id_keeps_the_history_and_the_next_turn_reuses_its_cache()
    {
        // Its own model: the kept conversation must not count in the other tests' cache statistics.
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var client = new GptChatClient(GptGenerator.Create(model));
        var options = new ChatOptions { ConversationId = "talk", Temperature = 0, MaxOutputTokens = 8 };

        var first = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "ROMEO:")], options);
        var second = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "JULIET:")], options);

        // The same conversation sent whole, without an id, gives the same reply from scratch.
        var whole = await client.GetResponseAsync(
            [new ChatMessage(ChatRole.User, "ROMEO:"), new ChatMessage(ChatRole.Assistant, first.Text), new ChatMessage(ChatRole.User, "JULIET:")],
            new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });
        var secondResult = (GenerationResult)second.RawRepresentation!;

        Assert.Multiple(() =>
        {
            Assert.That(second.ConversationId, Is.EqualTo("talk"));
            Assert.That(second.Text, Is.EqualTo(whole.Text));
            Assert.That(secondResult.PromptTokenCount, Is.EqualTo(((GenerationResult)whole.RawRepresentation!).PromptTokenCount));
            Assert.That(secondResult.ReusedPromptTokenCount, Is.GreaterThanOrEqualTo(((GenerationResult)first.RawRepresentation!).PromptTokenCount));
            Assert.That(model.CacheStatistics.Conversations, Is.EqualTo(1));
        });
    }

    [TestCase(1)]
    [TestCase(0)]
    public async Task The_client_keeps_as_many_conversations_as_the_model_least_recently_used_forgotten(int kept)
    {
        // The chat client's messages follow the caches' policy: GptOptions.MaxKeptConversations, least recently used first.
        using var model = GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, MaxKeptConversations = kept });
        using var client = new GptChatClient(GptGenerator.Create(model));
        ChatOptions In(string conversation) => new() { ConversationId = conversation, Temperature = 0, MaxOutputTokens = 4 };
        static int PromptTokens(ChatResponse response) => ((GenerationResult)response.RawRepresentation!).PromptTokenCount;

        var a1 = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "ROMEO:")], In("a"));
        var a2 = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "JULIET:")], In("a"));
        await client.GetResponseAsync([new ChatMessage(ChatRole.User, "ROMEO:")], In("b"));
        var a3 = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "JULIET:")], In("a"));
        var alone = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "JULIET:")], new ChatOptions { Temperature = 0, MaxOutputTokens = 4 });

        Assert.Multiple(() =>
        {
            Assert.That(PromptTokens(a2), kept == 1 ? Is.GreaterThan(PromptTokens(a1)) : Is.EqualTo(PromptTokens(alone)), "a's second turn sees its first when one conversation is kept");
            Assert.That(PromptTokens(a3), Is.EqualTo(PromptTokens(alone)), "b's turn made a the least recently used, and it was forgotten");
            Assert.That(model.CacheStatistics.Conversations, Is.EqualTo(kept));
        });
    }
}
