using OnnxGpt.Generation;

namespace OnnxGpt.GenAI.Tests;

public class CancellationTests
{
    [Test]
    public async Task Cancelling_mid_stream_throws_with_the_partial_result()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        using var cts = new CancellationTokenSource();
        var seen = new List<GeneratedToken>();

        var ex = Assert.ThrowsAsync<GenerationCanceledException>(async () =>
        {
            await foreach (var token in generator.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 100 }, cts.Token))
            {
                seen.Add(token);
                if (seen.Count == 5)
                {
                    await cts.CancelAsync();
                }
            }
        });

        var partial = ex!.PartialResult!;
        Assert.Multiple(() =>
        {
            Assert.That(ex, Is.InstanceOf<OperationCanceledException>());
            Assert.That(ex.CancellationToken, Is.EqualTo(cts.Token));
            Assert.That(seen, Has.Count.EqualTo(5));
            Assert.That(partial.FinishReason, Is.EqualTo(FinishReason.Cancelled));
            Assert.That(partial.TokenIds, Is.EqualTo(seen.Select(t => t.Id)));
            Assert.That(partial.Text, Is.EqualTo(string.Concat(seen.Select(t => t.Text))));
            Assert.That(partial.ExecutionProvider, Is.EqualTo("Cpu"));
        });

        // The generator is still usable.
        var after = await generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 5 });
        Assert.That(after.GeneratedTokenCount, Is.EqualTo(5));
    }

    [Test]
    public async Task A_token_cancelled_before_the_request_throws_with_an_empty_partial_result()
    {
        using var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        var ex = Assert.ThrowsAsync<GenerationCanceledException>(() => generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 5 }, cts.Token));

        Assert.That(ex!.PartialResult!.TokenIds, Is.Empty);
    }

    [Test]
    public void A_disposed_generator_refuses_requests()
    {
        var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        generator.Dispose();
        generator.Dispose();

        Assert.ThrowsAsync<ObjectDisposedException>(() => generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 5 }));
    }

    [Test]
    public async Task Disposing_during_a_stream_lets_the_current_token_finish_then_ends_it()
    {
        var generator = Fixtures.Create(Fixtures.TinyShakespeare);
        var count = 0;
        Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var token in generator.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 50 }))
            {
                if (++count == 3)
                {
                    generator.Dispose();
                }
            }
        });

        Assert.That(count, Is.EqualTo(3));
        await Task.CompletedTask;
    }
}
