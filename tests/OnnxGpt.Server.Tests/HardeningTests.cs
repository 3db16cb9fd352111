using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace OnnxGpt.Server.Tests;

/// <summary>
/// <c>onnxgpt serve</c> (OnnxGpt.AspNetCore) against hostile and malformed requests, over HTTP: each is refused with
/// OpenAI's error body and the right status, code and param, and after each the server still answers /health and a chat.
/// The embedded model has a 256-token context: request bodies up to 256 × 64 + 64 KiB = 81,920 bytes, prompts up to
/// 256 × 32 = 8,192 characters.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed partial class HardeningTests
{
    private const long BodyLimit = (256 * 64) + (64 * 1024);
    private const string Chat = """{"model":"tiny-shakespeare","messages":[{"role":"user","content":"ROMEO:"}],"max_tokens":2,"temperature":0}""";

    private ServerProcess _server = null!;
    private HttpClient _http = null!;

    [OneTimeSetUp]
    public async Task StartServer()
    {
        _server = await ServerProcess.StartServeAsync();
        _http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
    }

    [OneTimeTearDown]
    public void StopServer()
    {
        _http.Dispose();
        _server.Dispose();
    }

    /// <summary>After every case the server still serves.</summary>
    [TearDown]
    public async Task TheServerKeepsServing()
    {
        using var health = await _http.GetAsync(new Uri(_server.Endpoint + "/health"));
        using var chat = await PostAsync("/v1/chat/completions", Chat);
        Assert.Multiple(() =>
        {
            Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK), "/health after the case");
            Assert.That(chat.StatusCode, Is.EqualTo(HttpStatusCode.OK), "a chat completion after the case");
        });
    }

    [Test]
    public async Task A_body_larger_than_the_limit_is_413_by_its_content_length()
    {
        var (status, error) = await SendAsync(Post("/v1/chat/completions", new ByteArrayContent(new byte[BodyLimit + 1]) { Headers = { ContentType = Json } }));

        AssertError(status, error, HttpStatusCode.RequestEntityTooLarge, "request_too_large", null);
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("81920 bytes"));
    }

    [Test]
    public async Task A_chunked_body_is_refused_with_413_as_soon_as_it_passes_the_limit()
    {
        var content = new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes("{\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('a', (int)BodyLimit) + "\"}]}")));
        content.Headers.ContentType = Json;
        var request = Post("/v1/chat/completions", content);
        request.Headers.TransferEncodingChunked = true;

        var (status, error) = await SendAsync(request);

        AssertError(status, error, HttpStatusCode.RequestEntityTooLarge, "request_too_large", null);
    }

    [TestCase("/v1/chat/completions", """{"messages":[{"role":"user","content":"%"}]}""", "messages")]
    [TestCase("/v1/completions", """{"prompt":"%"}""", "prompt")]
    public async Task A_prompt_longer_than_the_context_could_hold_is_refused_before_it_is_tokenized(string path, string template, string param)
    {
        // 9,000 characters fit the body limit but not 256 tokens of 32 characters at most.
        var (status, error) = await SendAsync(Post(path, template.Replace("%", new string('a', 9000), StringComparison.Ordinal)));

        AssertError(status, error, HttpStatusCode.BadRequest, "context_length_exceeded", param);
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("9000 characters").And.Contain("8192"));
    }

    [TestCase("""["a","b","c","d","e"]""", "array_above_max_length")]
    [TestCase("\"\"", "invalid_value")]
    [TestCase(null, "string_above_max_length")]
    public async Task Stop_holds_at_most_4_sequences_of_at_most_256_characters(string? stop, string code)
    {
        stop ??= "\"" + new string('x', 257) + "\"";
        var (status, error) = await SendAsync(Post("/v1/chat/completions", $$"""{"messages":[{"role":"user","content":"hi"}],"stop":{{stop}}}"""));

        AssertError(status, error, HttpStatusCode.BadRequest, code, "stop");
    }

    [Test]
    public async Task Four_stop_sequences_are_accepted()
    {
        var (status, _) = await SendAsync(Post("/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stop":["a","b","c","d"]}"""));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
    }

    [TestCase(new byte[] { 0xff, 0xfe })]
    [TestCase(new byte[] { 0xc3 })]
    [TestCase(new byte[] { 0xed, 0xa0, 0x80 })]   // a surrogate encoded in UTF-8 (CESU), not UTF-8
    public async Task Invalid_utf8_is_400(byte[] bad)
    {
        var body = Encoding.UTF8.GetBytes("""{"messages":[{"role":"user","content":"x""").Concat(bad).Concat(Encoding.UTF8.GetBytes("\"}]}")).ToArray();

        var (status, error) = await SendAsync(Post("/v1/chat/completions", new ByteArrayContent(body) { Headers = { ContentType = Json } }));

        AssertError(status, error, HttpStatusCode.BadRequest, "invalid_encoding", null);
        Assert.That(error.GetProperty("message").GetString(), Is.EqualTo("The request body is not valid UTF-8."));
    }

    [TestCase("\\ud800")]
    [TestCase("x\\udc00y")]
    [TestCase("\\ud800\\ud800")]
    public async Task Lone_surrogates_are_400(string escaped)
    {
        var (status, error) = await SendAsync(Post("/v1/chat/completions", $$"""{"messages":[{"role":"user","content":"{{escaped}}"}]}"""));

        AssertError(status, error, HttpStatusCode.BadRequest, "invalid_encoding", null);
        Assert.That(error.GetProperty("message").GetString(), Does.Contain("unpaired surrogate"));
    }

    [Test]
    public async Task A_surrogate_pair_is_text()
    {
        var (status, _) = await SendAsync(Post("/v1/chat/completions", """{"messages":[{"role":"user","content":"\ud83d\ude00"}],"max_tokens":2}"""));

        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
    }

    [TestCase("GET", "/v1/nothing", HttpStatusCode.NotFound, "not_found")]
    [TestCase("GET", "/nothing", HttpStatusCode.NotFound, "not_found")]
    [TestCase("GET", "/v1/chat/completions", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [TestCase("DELETE", "/v1/models", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [TestCase("GET", "/v1/models/no-such-model", HttpStatusCode.NotFound, "model_not_found")]
    public async Task Routing_errors_are_openai_errors(string method, string path, HttpStatusCode expected, string code)
    {
        var (status, error) = await SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(_server.Endpoint + path)));

        AssertError(status, error, expected, code, code == "model_not_found" ? "model" : null);
    }

    [Test]
    public async Task An_unknown_model_is_404_model_not_found()
    {
        var (status, error) = await SendAsync(Post("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}"""));

        AssertError(status, error, HttpStatusCode.NotFound, "model_not_found", "model");
    }

    [TestCase("text/plain")]
    [TestCase("application/x-www-form-urlencoded")]
    [TestCase("application/json; charset=latin1")]
    public async Task A_body_that_is_not_application_json_is_415(string contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(Chat));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);

        var (status, error) = await SendAsync(Post("/v1/chat/completions", content));

        AssertError(status, error, HttpStatusCode.UnsupportedMediaType, "unsupported_media_type", null);
    }

    [Test]
    public async Task A_body_that_stops_arriving_is_408_with_an_openai_error()
    {
        // Kestrel's minimum body data rate (240 bytes/s after a 5 s grace) ends the wait; the client sent 12 of 50,000 bytes.
        var uri = new Uri(_server.Endpoint);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        var head = $"POST /v1/chat/completions HTTP/1.1\r\nHost: {uri.Host}\r\nContent-Type: application/json\r\nContent-Length: 50000\r\n\r\n{{\"messages\":";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var reader = new StreamReader(stream, Encoding.UTF8);

        var response = await reader.ReadToEndAsync(timeout.Token);

        Assert.Multiple(() =>
        {
            Assert.That(response, Does.StartWith("HTTP/1.1 408 "));
            Assert.That(response, Does.Contain("application/json"));
            Assert.That(response, Does.Contain("\"code\":\"request_timeout\""));
        });
    }

    [Test]
    public async Task Headers_past_32_KiB_are_431()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_server.Endpoint + "/v1/models"));
        request.Headers.Add("X-Padding", new string('a', 40 * 1024));

        var (status, error) = await SendAsync(request);

        AssertError(status, error, HttpStatusCode.RequestHeaderFieldsTooLarge, "request_headers_too_large", null);
    }

    [Test]
    public async Task A_host_the_server_is_not_bound_to_is_400()
    {
        var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_server.Endpoint + "/v1/models"));
        request.Headers.Host = "evil.example";

        var (status, error) = await SendAsync(request);

        AssertError(status, error, HttpStatusCode.BadRequest, "bad_request", null);
    }

    [Test]
    public async Task Cors_is_off_no_origin_is_allowed()
    {
        var preflight = new HttpRequestMessage(HttpMethod.Options, new Uri(_server.Endpoint + "/v1/chat/completions"));
        preflight.Headers.Add("Origin", "http://elsewhere.example");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        using var answer = await _http.SendAsync(preflight);
        var post = Post("/v1/chat/completions", Chat);
        post.Headers.Add("Origin", "http://elsewhere.example");
        using var posted = await _http.SendAsync(post);

        Assert.Multiple(() =>
        {
            Assert.That(answer.Headers.Contains("Access-Control-Allow-Origin"), Is.False);
            Assert.That(posted.Headers.Contains("Access-Control-Allow-Origin"), Is.False);
        });
    }

    [TestCase("\"temperature\":1e308", "temperature", "invalid_value", "out of range")]
    [TestCase("\"temperature\":-1", "temperature", "invalid_value", "temperature must be")]
    [TestCase("\"temperature\":\"hot\"", "temperature", "invalid_type", "must be a number")]
    [TestCase("\"max_tokens\":0", "max_tokens", "invalid_value", "max_tokens must be at least 1")]
    [TestCase("\"max_tokens\":1e12", "max_tokens", "invalid_value", "out of range")]
    [TestCase("\"top_p\":5", "top_p", "invalid_value", "top_p must be")]
    [TestCase("\"frequency_penalty\":5", "frequency_penalty", "invalid_value", "frequency_penalty must be")]
    [TestCase("\"tool_choice\":\"required\"", "tool_choice", "invalid_value", "no 'tools'")]
    public async Task Messages_name_openai_fields_never_dotnet_options(string field, string param, string code, string says)
    {
        var (status, error) = await SendAsync(Post("/v1/chat/completions", $$"""{"messages":[{"role":"user","content":"hi"}],{{field}}}"""));

        AssertError(status, error, HttpStatusCode.BadRequest, code, param);
        var message = error.GetProperty("message").GetString()!;
        Assert.That(message, Does.Contain(says));
        Assert.That(DotNetName().Match(message).Value, Is.Empty, message);
    }

    [TestCase("foo", "unknown_parameter")]
    [TestCase("reasoning_effort", "unsupported_parameter")]
    [TestCase("prediction", "unsupported_parameter")]
    [TestCase("audio", "unsupported_parameter")]
    public async Task Unknown_and_unsupported_fields_are_refused_naming_them(string field, string code)
    {
        var (status, error) = await SendAsync(Post("/v1/chat/completions", $$"""{"messages":[{"role":"user","content":"hi"}],"{{field}}":{"x":1} }"""));

        AssertError(status, error, HttpStatusCode.BadRequest, code, field);
    }

    [Test]
    public async Task Modalities_other_than_text_are_refused_and_the_documented_ignored_fields_accepted()
    {
        var (refused, error) = await SendAsync(Post("/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"modalities":["text","audio"]}"""));
        var (accepted, _) = await SendAsync(Post(
            "/v1/chat/completions",
            """{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"modalities":["text"],"user":"u1","metadata":{"a":"b"},"store":false,"service_tier":"auto","parallel_tool_calls":true}"""));

        AssertError(refused, error, HttpStatusCode.BadRequest, "unsupported_parameter", "modalities");
        Assert.That(accepted, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Deeply_nested_json_and_over_long_fields_are_400()
    {
        var deep = """{"messages":[{"role":"user","content":"hi"}],"metadata":""" + new string('[', 100) + new string(']', 100) + "}";
        var (deepStatus, deepError) = await SendAsync(Post("/v1/chat/completions", deep));
        var (modelStatus, modelError) = await SendAsync(Post("/v1/chat/completions", $$"""{"model":"{{new string('m', 300)}}","messages":[{"role":"user","content":"hi"}]}"""));
        var (manyStatus, manyError) = await SendAsync(Post("/v1/chat/completions", """{"messages":[""" + string.Join(',', Enumerable.Repeat("""{"role":"user","content":""}""", 2049)) + "]}"));

        AssertError(deepStatus, deepError, HttpStatusCode.BadRequest, "invalid_json", null);
        AssertError(modelStatus, modelError, HttpStatusCode.BadRequest, "string_above_max_length", "model");
        AssertError(manyStatus, manyError, HttpStatusCode.BadRequest, "array_above_max_length", "messages");
    }

    [Test]
    public async Task Client_faults_log_at_most_a_warning_without_a_stack_trace()
    {
        await SendAsync(Post("/v1/chat/completions", "{not json"));
        await SendAsync(Post("/v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}],"temperature":-1}"""));
        await SendAsync(Post("/v1/chat/completions", new ByteArrayContent(new byte[BodyLimit + 1]) { Headers = { ContentType = Json } }));
        await SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(_server.Endpoint + "/v1/nothing")));
        await Task.Delay(200);

        var output = _server.Output;
        Assert.Multiple(() =>
        {
            Assert.That(output, Does.Contain("warn: OnnxGpt.AspNetCore.OpenAIEndpoints[2] Refused POST /v1/chat/completions: 400 invalid_json"));
            Assert.That(output, Does.Not.Contain("fail:").And.Not.Contain("crit:"));
            Assert.That(output, Does.Not.Match(@"\n\s+at \S+\("), "a stack trace");
        });
    }

    [Test]
    public async Task Memory_returns_near_its_baseline_after_30_oversized_requests()
    {
        var oversized = new byte[8 * 1024 * 1024];
        Array.Fill(oversized, (byte)'a');
        await SendOversizedAsync(oversized);
        var baseline = RssBytes(_server.ProcessId);

        for (var i = 0; i < 30; i++)
        {
            await SendOversizedAsync(oversized);
        }

        var after = RssBytes(_server.ProcessId);
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RSS baseline {baseline / 1e6:F1} MB, after 30 oversized (8 MB) requests {after / 1e6:F1} MB"));
        Assert.That(after, Is.LessThan(baseline + (150L * 1024 * 1024)));
    }

    private async Task SendOversizedAsync(byte[] body)
    {
        try
        {
            var (status, _) = await SendAsync(Post("/v1/chat/completions", new ByteArrayContent(body) { Headers = { ContentType = Json } }));
            Assert.That(status, Is.EqualTo(HttpStatusCode.RequestEntityTooLarge));
        }
        catch (HttpRequestException)
        {
            // The server answered 413 and closed the connection while the client was still sending: refused either way.
        }
    }

    private static long RssBytes(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }

    private static MediaTypeHeaderValue Json => new("application/json");

    private HttpRequestMessage Post(string path, string json) => Post(path, new StringContent(json, Encoding.UTF8, "application/json"));

    private HttpRequestMessage Post(string path, HttpContent content) => new(HttpMethod.Post, new Uri(_server.Endpoint + path)) { Content = content };

    private Task<HttpResponseMessage> PostAsync(string path, string json) => _http.SendAsync(Post(path, json));

    private async Task<(HttpStatusCode Status, JsonElement Error)> SendAsync(HttpRequestMessage request)
    {
        using (request)
        using (var response = await _http.SendAsync(request))
        {
            var body = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                return (response.StatusCode, default);
            }

            Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"), body);
            using var json = JsonDocument.Parse(body);
            return (response.StatusCode, json.RootElement.GetProperty("error").Clone());
        }
    }

    private static void AssertError(HttpStatusCode status, JsonElement error, HttpStatusCode expected, string code, string? param) =>
        Assert.Multiple(() =>
        {
            Assert.That(status, Is.EqualTo(expected), error.ValueKind == JsonValueKind.Undefined ? "no error" : error.ToString());
            Assert.That(error.GetProperty("code").GetString(), Is.EqualTo(code), error.ToString());
            Assert.That(error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString(), Is.EqualTo(param), error.ToString());
            Assert.That(error.GetProperty("type").GetString(), Is.EqualTo("invalid_request_error"));
            Assert.That(error.GetProperty("message").GetString(), Is.Not.Empty);
        });

    // A .NET-style name (MaxOutputTokens, ChatOptions, GptChatClient) in a message for API users.
    [GeneratedRegex(@"\b[A-Z][a-z]+[A-Z][A-Za-z]*\b")]
    private static partial Regex DotNetName();

    /// <summary>A body HttpClient cannot measure, so that it is sent chunked.</summary>
    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
