using System.Net;
using System.Text;

namespace OnnxGpt.Server.Tests;

/// <summary>The server's queue limit and client disconnects, over HTTP.</summary>
[TestFixture]
[NonParallelizable]
public sealed class QueueLimitTests
{
    private const string LongStream = """{"model":"tiny-shakespeare","messages":[{"role":"user","content":"ROMEO:"}],"max_tokens":200,"temperature":0,"stream":true}""";

    [Test]
    public async Task A_full_queue_answers_429_with_an_openai_error_and_the_server_keeps_serving()
    {
        // One generation at a time and nobody waiting: of requests sent together, those that find it busy are refused.
        using var server = await ServerProcess.StartAsync("--Gpt:MaxConcurrentRequests=1", "--Gpt:MaxQueuedRequests=0");
        using var http = new HttpClient();
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => http.SendAsync(Post(server, LongStream), HttpCompletionOption.ResponseHeadersRead)));
        var refused = responses.Where(r => r.StatusCode == (HttpStatusCode)429).ToList();
        var served = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        var error = refused.Count > 0 ? await refused[0].Content.ReadAsStringAsync() : string.Empty;

        // Clients that go away mid-stream: their generations stop and free the slot for the next request.
        foreach (var response in responses)
        {
            response.Dispose();
        }

        HttpResponseMessage? next = null;
        for (var i = 0; i < 50 && next?.StatusCode != HttpStatusCode.OK; i++)
        {
            next?.Dispose();
            await Task.Delay(100);
            next = await http.SendAsync(Post(server, """{"model":"tiny-shakespeare","messages":[{"role":"user","content":"ROMEO:"}],"max_tokens":4}"""));
        }

        Assert.Multiple(() =>
        {
            Assert.That(served, Is.Not.Empty);
            Assert.That(refused, Is.Not.Empty, "no request was refused while the only slot was taken");
            Assert.That(served.Count + refused.Count, Is.EqualTo(12));
            Assert.That(error, Does.Contain("\"type\":\"rate_limit_error\"").And.Contain("queue_full"));
            Assert.That(next!.StatusCode, Is.EqualTo(HttpStatusCode.OK), "the server stopped serving");
        });
        next!.Dispose();
    }

    private static HttpRequestMessage Post(ServerProcess server, string json) =>
        new(HttpMethod.Post, new Uri(server.Endpoint + "/v1/chat/completions")) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
}
