using System.Net;
using System.Text;
using System.Text.Json;

namespace OnnxGpt.Server.Tests;

/// <summary>A chat longer than the model's context is answered (its oldest turns dropped), or refused as OpenAI does with Chat:ContextOverflow=Throw.</summary>
[TestFixture]
[NonParallelizable]
public sealed class LongConversationTests
{
    private static string LongChat()
    {
        var messages = new List<object> { new { role = "system", content = "A scene in Verona." } };
        for (var i = 1; i <= 30; i++)
        {
            messages.Add(new { role = "user", content = $"ROMEO: speak the {i}th line, sweet love." });
            messages.Add(new { role = "assistant", content = "O, speak again, bright angel." });
        }

        messages.Add(new { role = "user", content = "ROMEO: and now?" });
        return JsonSerializer.Serialize(new { model = "tiny-shakespeare", messages, max_tokens = 16, temperature = 0 });
    }

    [Test]
    public async Task A_conversation_longer_than_the_context_is_answered()
    {
        using var server = await ServerProcess.StartAsync();
        using var http = new HttpClient();

        using var response = await http.PostAsync(new Uri(server.Endpoint + "/v1/chat/completions"), new StringContent(LongChat(), Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(body);
        var usage = json.RootElement.GetProperty("usage");

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), body);
            Assert.That(usage.GetProperty("prompt_tokens").GetInt32(), Is.LessThanOrEqualTo(256 - 16));
            Assert.That(server.Output, Does.Contain("dropped the "));
        });
    }

    [Test]
    public async Task With_ContextOverflow_Throw_it_is_refused_as_OpenAI_does()
    {
        using var server = await ServerProcess.StartAsync("--Chat:ContextOverflow=Throw");
        using var http = new HttpClient();

        using var response = await http.PostAsync(new Uri(server.Endpoint + "/v1/chat/completions"), new StringContent(LongChat(), Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();

        Assert.Multiple(() =>
        {
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), body);
            Assert.That(body, Does.Contain("context_length_exceeded"));
        });
    }
}
