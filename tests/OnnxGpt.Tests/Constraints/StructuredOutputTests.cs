using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace OnnxGpt.Tests.Constraints;

/// <summary>
/// Structured output through Microsoft.Extensions.AI alone, against the chat client that <c>AddGpt</c> registers:
/// the typed <c>GetResponseAsync&lt;T&gt;</c> and <c>ChatResponseFormat.Json</c> return valid JSON on a model that knows none.
/// </summary>
[TestFixture]
public sealed class StructuredOutputTests
{
    private static readonly ChatMessage[] Ask = [new(ChatRole.User, "Who is Romeo?")];

    private ServiceProvider _provider = null!;

    public enum Mood
    {
        Merry,
        Sad,
    }

    [OneTimeSetUp]
    public void Start()
    {
        var services = new ServiceCollection();
        services.AddGpt(o => o.ModelPath = TestPaths.TinyShakespeare);
        _provider = services.BuildServiceProvider();
    }

    [OneTimeTearDown]
    public void Stop() => _provider.Dispose();

    [Test]
    public async Task GetResponseAsync_of_T_returns_a_typed_object_whose_JSON_matches_the_schema()
    {
        var chat = _provider.GetRequiredService<IChatClient>();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 120 };

        var response = await chat.GetResponseAsync<Character>(Ask, options);

        var schema = AIJsonUtilities.CreateJsonSchema(typeof(Character), serializerOptions: AIJsonUtilities.DefaultOptions).GetRawText();
        TestContext.Out.WriteLine(response.Text);
        JsonAssert.Valid(response.Text, schema);
        Assert.Multiple(() =>
        {
            Assert.That(response.TryGetResult(out var character), Is.True);
            var expected = JsonSerializer.Deserialize<Character>(response.Text, AIJsonUtilities.DefaultOptions);
            Assert.That(JsonSerializer.Serialize(character, AIJsonUtilities.DefaultOptions), Is.EqualTo(JsonSerializer.Serialize(expected, AIJsonUtilities.DefaultOptions)));
            Assert.That(character!.Lines, Is.Not.Null);
            Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        });
    }

    [Test]
    public async Task GetResponseAsync_of_a_primitive_and_of_an_enum_returns_it()
    {
        var chat = _provider.GetRequiredService<IChatClient>();
        var number = await chat.GetResponseAsync<int>(Ask, new ChatOptions { Temperature = 0, MaxOutputTokens = 40 });
        var mood = await chat.GetResponseAsync<Mood>(Ask, new ChatOptions { Temperature = 0.8f, Seed = 3, MaxOutputTokens = 40 });

        Assert.Multiple(() =>
        {
            Assert.That(number.TryGetResult(out var value), Is.True, number.Text);
            Assert.That(value, Is.EqualTo(JsonDocument.Parse(number.Text).RootElement.GetProperty("data").GetInt32()));
            Assert.That(mood.TryGetResult(out var m), Is.True, mood.Text);
            Assert.That(m.ToString(), Is.EqualTo(JsonDocument.Parse(mood.Text).RootElement.GetProperty("data").GetString()));
        });
    }

    [Test]
    public async Task ChatResponseFormat_Json_returns_a_JSON_object_streamed_or_not()
    {
        var chat = _provider.GetRequiredService<IChatClient>();
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 60, ResponseFormat = ChatResponseFormat.Json };

        var response = await chat.GetResponseAsync(Ask, options);
        var streamed = await chat.GetStreamingResponseAsync(Ask, options).ToChatResponseAsync();

        JsonAssert.Valid(response.Text, """{"type":"object"}""");
        Assert.That(streamed.Text, Is.EqualTo(response.Text));
    }

    [Test]
    public void An_unsupported_schema_keyword_is_an_ArgumentException_naming_ResponseFormat()
    {
        var chat = _provider.GetRequiredService<IChatClient>();
        using var schema = JsonDocument.Parse("""{"type":"string","pattern":"^R"}""");
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema.RootElement.Clone()) };

        var error = Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync(Ask, options))!;

        Assert.Multiple(() =>
        {
            Assert.That(error.ParamName, Is.EqualTo("ResponseFormat"));
            Assert.That(error.Message, Does.Contain("'pattern'"));
        });
    }

    /// <summary>A typed result with nested, nullable and enum members, as applications declare them.</summary>
    public sealed record Character(string Name, int Age, bool Noble, Mood Mood, string? House, List<string> Lines);
}
