using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using OnnxGpt.Chat;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Chat;

/// <summary>Long conversations on the embedded model (context 256) never dead-end: the oldest turns go, the system prompt stays.</summary>
[TestFixture]
public sealed class ContextOverflowTests
{
    private const int Turns = 50;
    private const int AnswerTokens = 16;
    private static readonly ChatMessage System = new(ChatRole.System, "A scene in Verona.");

    private static ChatMessage UserTurn(int i) => new(ChatRole.User, $"ROMEO: speak the {i}th line, sweet love.");

    private static ChatOptions Options(string? conversation) => new() { ConversationId = conversation, Temperature = 0, MaxOutputTokens = AnswerTokens };

    private static int DroppedOf(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(GptChatClient.DroppedMessagesProperty, out var value) ? (int)value! : 0;

    [Test]
    public async Task Fifty_turns_of_a_kept_conversation_are_all_answered()
    {
        using var logs = new ListLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs));
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var client = new GptChatClient(GptGenerator.Create(model), loggerFactory: loggerFactory);
        var all = new List<ChatMessage> { System };
        var droppedSoFar = 0;
        var droppingTurns = 0;
        ChatResponse? last = null;

        for (var i = 1; i <= Turns; i++)
        {
            ChatMessage[] turn = i == 1 ? [System, UserTurn(i)] : [UserTurn(i)];
            var response = await client.GetResponseAsync(turn, Options("verona"));
            var result = (GenerationResult)response.RawRepresentation!;
            var dropped = DroppedOf(response.AdditionalProperties);

            Assert.Multiple(() =>
            {
                Assert.That(response.FinishReason, Is.Not.Null, $"turn {i}");
                Assert.That(result.PromptTokenCount, Is.LessThanOrEqualTo(256 - AnswerTokens), $"turn {i}: the answer's reserve stays free");
                Assert.That(dropped % 2, Is.Zero, $"turn {i}: whole turns (a user message and its reply) are dropped");
                if (i > 1)
                {
                    // The cache's prefix survives: at least the system prompt, and the whole previous turn between drops.
                    Assert.That(result.ReusedPromptTokenCount, Is.GreaterThan(0), $"turn {i}");
                }
            });

            all.Add(UserTurn(i));
            all.Add(response.Messages[^1]);
            droppedSoFar += dropped;
            droppingTurns += dropped > 0 ? 1 : 0;
            last = response;
        }

        // The kept conversation is the system prompt and what was not dropped; sent whole, it gives the same reply.
        List<ChatMessage> kept = [System, .. all.Skip(1 + droppedSoFar).SkipLast(1)];
        using var fresh = new GptChatClient(GptGenerator.Create(model), new GptChatClientOptions { ContextOverflow = ContextOverflow.Throw });
        var whole = await fresh.GetResponseAsync(kept, Options(null));
        var dropLogs = logs.Messages.Where(m => m.EventId.Id == 40).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(droppedSoFar, Is.GreaterThan(2 * (Turns / 2)), "most turns were dropped");
            Assert.That(whole.Text, Is.EqualTo(last!.Text));
            Assert.That(dropLogs, Has.Count.EqualTo(droppingTurns));
            Assert.That(dropLogs[0].Text, Does.StartWith("Conversation verona: dropped the "));
            Assert.That(dropLogs[0].Level, Is.EqualTo(LogLevel.Information));
        });
    }

    [Test]
    public async Task With_Throw_the_same_conversation_dead_ends_as_before()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var client = new GptChatClient(GptGenerator.Create(model), new GptChatClientOptions { ContextOverflow = ContextOverflow.Throw });

        var answered = 0;
        var ex = Assert.ThrowsAsync<PromptTooLongException>(async () =>
        {
            for (var i = 1; i <= Turns; i++)
            {
                ChatMessage[] turn = i == 1 ? [System, UserTurn(i)] : [UserTurn(i)];
                var response = await client.GetResponseAsync(turn, Options("verona"));
                Assert.That(DroppedOf(response.AdditionalProperties), Is.Zero);
                answered++;
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(ex, Is.Not.Null);
            Assert.That(answered, Is.LessThan(Turns));
        });
    }

    [Test]
    public async Task A_history_sent_whole_keeps_the_system_prompt_and_the_latest_turns()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var client = new GptChatClient(GptGenerator.Create(model), new GptChatClientOptions { ReservedAnswerTokens = 64 });
        var history = new List<ChatMessage> { System };
        for (var i = 1; i <= 20; i++)
        {
            history.Add(UserTurn(i));
            history.Add(new ChatMessage(ChatRole.Assistant, "O, speak again, bright angel."));
        }

        history.Add(UserTurn(21));

        var response = await client.GetResponseAsync(history, Options(null));
        var result = (GenerationResult)response.RawRepresentation!;
        var dropped = DroppedOf(response.AdditionalProperties);
        var expectedPrompt = client.FormatPrompt([System, .. history.Skip(1 + dropped)]);
        var oneFewer = client.FormatPrompt([System, .. history.Skip(1 + dropped - 2)]);

        Assert.Multiple(() =>
        {
            Assert.That(dropped, Is.GreaterThan(0));
            Assert.That(model.Tokenizer!.Decode(result.PromptTokenIds), Is.EqualTo(expectedPrompt));
            Assert.That(result.PromptTokenCount, Is.LessThanOrEqualTo(256 - 64));
            // The fewest turns were dropped: keeping one more would not leave the reserve.
            Assert.That(model.Tokenizer!.Encode(oneFewer).Count, Is.GreaterThan(256 - 64));
        });
    }
}
