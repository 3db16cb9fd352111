using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using OnnxGpt.Tests.Constraints;

namespace OnnxGpt.Tests.Chat;

/// <summary>
/// Tools through Microsoft.Extensions.AI alone, against the chat client <c>AddGpt</c> registers for a Hugging Face
/// folder with a tool-calling template (the qwen3 hub fixture: its real template and tokenizer, a tiny random graph):
/// <c>UseFunctionInvocation()</c> with a required tool invokes it with arguments valid against its schema.
/// </summary>
[TestFixture]
public sealed class RegisteredToolCallTests
{
    private ServiceProvider _provider = null!;

    [OneTimeSetUp]
    public void Start()
    {
        var services = new ServiceCollection();
        services.AddGpt(o => o.ModelPath = TestPaths.Hub("qwen3"));
        _provider = services.BuildServiceProvider();
    }

    [OneTimeTearDown]
    public void Stop() => _provider.Dispose();

    [Test]
    public async Task UseFunctionInvocation_over_the_registered_client_invokes_a_required_tool_with_valid_arguments()
    {
        var calls = new List<(string City, int Days)>();
        var forecast = AIFunctionFactory.Create(
            (string city, int days) =>
            {
                calls.Add((city, days));
                return $"sunny for {days} days in {city}";
            },
            "get_forecast",
            "Get the weather forecast for a city.");
        using var chat = new ChatClientBuilder(_provider.GetRequiredService<IChatClient>()).UseFunctionInvocation().Build();

        var response = await chat.GetResponseAsync(
            "What will the weather be in Lisbon?",
            new ChatOptions { Tools = [forecast], ToolMode = ChatToolMode.RequireSpecific("get_forecast"), MaxOutputTokens = 48, Temperature = 0 });

        var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().First();
        var result = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        Assert.Multiple(() =>
        {
            Assert.That(calls, Has.Count.EqualTo(1), "invoked once: Microsoft.Extensions.AI drops the required mode after the first round");
            Assert.That(call.Name, Is.EqualTo("get_forecast"));
            Assert.That(result.CallId, Is.EqualTo(call.CallId));
            Assert.That(result.Result?.ToString(), Is.EqualTo($"sunny for {calls[0].Days} days in {calls[0].City}"));
            Assert.That(response.Messages[^1].Role, Is.EqualTo(ChatRole.Assistant));
        });
        JsonAssert.Valid(JsonSerializer.Serialize(call.Arguments), forecast.JsonSchema.GetRawText());
    }
}
