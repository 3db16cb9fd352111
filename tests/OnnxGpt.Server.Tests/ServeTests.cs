using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OnnxGpt.Chat;
using OnnxGpt.Generation;

namespace OnnxGpt.Server.Tests;

/// <summary><c>onnxgpt serve</c>: its address, the API key, several models, and tool messages mapped as the chat client reads them.</summary>
[TestFixture]
[NonParallelizable]
public sealed class ServeTests
{
    private static readonly string Qwen3 = Path.Combine(ServerProcess.RepositoryRoot, "tests", "fixtures", "hub", "qwen3");

    [Test]
    public async Task ASPNETCORE_URLS_is_honoured_without_urls()
    {
        using var server = await ServerProcess.StartServeWithEnvironmentUrlsAsync();
        using var http = new HttpClient();

        var health = await http.GetStringAsync(new Uri(server.Endpoint + "/health"));

        Assert.That(health, Does.StartWith("""{"status":"ok","model":"tiny-shakespeare","models":["tiny-shakespeare"]"""));
    }

    [Test]
    public async Task With_an_api_key_v1_needs_the_bearer_key_and_health_stays_open()
    {
        using var server = await ServerProcess.StartServeAsync("--api-key", "s3cret");
        using var http = new HttpClient();

        using var none = await http.GetAsync(new Uri(server.Endpoint + "/v1/models"));
        using var wrong = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(server.Endpoint + "/v1/models")) { Headers = { { "Authorization", "Bearer s3crex" } } });
        using var shorter = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(server.Endpoint + "/v1/models")) { Headers = { { "Authorization", "Bearer s3c" } } });
        using var right = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(server.Endpoint + "/v1/models")) { Headers = { { "Authorization", "Bearer s3cret" } } });
        using var health = await http.GetAsync(new Uri(server.Endpoint + "/health"));
        using var error = JsonDocument.Parse(await none.Content.ReadAsStringAsync());

        Assert.Multiple(() =>
        {
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(wrong.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(shorter.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That(right.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(error.RootElement.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo("invalid_api_key"));
            Assert.That(error.RootElement.GetProperty("error").GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
            Assert.That(none.Headers.WwwAuthenticate.ToString(), Is.EqualTo("Bearer"));
        });
    }

    [Test]
    public async Task With_metrics_a_scrape_reports_the_requests_token_usage_as_prometheus_text_and_without_there_is_no_metrics_route()
    {
        using var server = await ServerProcess.StartServeAsync("--metrics");
        using var plain = await ServerProcess.StartServeAsync();
        using var http = new HttpClient();
        using var chat = await http.PostAsync(
            new Uri(server.Endpoint + "/v1/chat/completions"),
            new StringContent("""{"messages":[{"role":"user","content":"ROMEO:"}],"max_tokens":3,"temperature":0}""", Encoding.UTF8, "application/json"));
        using var usage = JsonDocument.Parse(await chat.Content.ReadAsStringAsync());
        var promptTokens = usage.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();

        using var scrape = await http.GetAsync(new Uri(server.Endpoint + "/metrics"));
        var text = await scrape.Content.ReadAsStringAsync();
        using var none = await http.GetAsync(new Uri(plain.Endpoint + "/metrics"));

        string Line(string name, string type) =>
            text.Split('\n').FirstOrDefault(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"gen_ai_token_type=\"{type}\"", StringComparison.Ordinal)) ?? "(missing)";
        Assert.Multiple(() =>
        {
            Assert.That(scrape.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            Assert.That(scrape.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain"));
            Assert.That(Line("gen_ai_client_token_usage_sum", "output"), Does.EndWith("} 3"));
            Assert.That(Line("gen_ai_client_token_usage_count", "output"), Does.EndWith("} 1"));
            Assert.That(Line("gen_ai_client_token_usage_sum", "input"), Does.EndWith($"}} {promptTokens}"));
            Assert.That(Line("gen_ai_client_token_usage_sum", "output"), Does.Contain("gen_ai_request_model=\"tiny-shakespeare\""));
            Assert.That(text, Does.Contain("# TYPE gen_ai_server_time_to_first_token_seconds histogram"));
            Assert.That(text, Does.Contain("onnxgpt_requests_running{"));
            Assert.That(text, Does.Contain("service_name=\"onnxgpt\""));
            Assert.That(none.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        });
    }

    [Test]
    public async Task Tool_calls_and_results_over_http_make_the_prompt_the_chat_client_makes_from_the_same_messages()
    {
        using var server = await ServerProcess.StartServeAsync("--model", Path.Combine(ServerProcess.OutputOf("tools", "OnnxGpt.Cli"), "models", "tiny-shakespeare"), "--model", Qwen3);
        using var http = new HttpClient();
        const string Body = """
            {"model":"qwen3","max_tokens":2,"temperature":0,
             "tools":[{"type":"function","function":{"name":"get_weather","description":"The weather in a city.","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],
             "messages":[{"role":"user","content":"Weather in Oslo?"},
                         {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},
                         {"role":"tool","tool_call_id":"call_1","content":"21 degrees"}]}
            """;

        using var response = await http.PostAsync(new Uri(server.Endpoint + "/v1/chat/completions"), new StringContent(Body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        using var json = JsonDocument.Parse(text);

        // The oracle: the same conversation as Microsoft.Extensions.AI messages, rendered and tokenized by the library.
        using var model = GptModel.Load(new GptOptions { ModelPath = Qwen3 });
        using var chat = new GptChatClient(GptGenerator.Create(model));
        using var schema = JsonDocument.Parse("""{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}""");
        var options = new ChatOptions { Tools = [AIFunctionFactory.CreateDeclaration("get_weather", "The weather in a city.", schema.RootElement.Clone())] };
        ChatMessage[] messages =
        [
            new(ChatRole.User, "Weather in Oslo?"),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "get_weather", new Dictionary<string, object?> { ["city"] = "Oslo" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", "21 degrees")]),
        ];
        var prompt = chat.FormatPrompt(messages, options);

        Assert.Multiple(() =>
        {
            Assert.That(prompt, Does.Contain("get_weather").And.Contain("Oslo").And.Contain("21 degrees"));
            Assert.That(json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), Is.EqualTo(model.Encode(prompt).Count));
            Assert.That(json.RootElement.GetProperty("model").GetString(), Is.EqualTo("qwen3"));
        });
    }
}
