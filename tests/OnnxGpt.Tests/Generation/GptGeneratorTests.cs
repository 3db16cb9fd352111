using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

[TestFixture]
public sealed class GptGeneratorTests : TinyShakespeareFixture
{
    [Test]
    public async Task Same_seed_gives_the_same_sampled_text_and_different_seeds_differ()
    {
        var a = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { Seed = 42, MaxNewTokens = 40 });
        var b = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { Seed = 42, MaxNewTokens = 40 });
        var c = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { Seed = 7, MaxNewTokens = 40 });

        Assert.Multiple(() =>
        {
            Assert.That(b.TokenIds, Is.EqualTo(a.TokenIds));
            Assert.That(b.Text, Is.EqualTo(a.Text));
            Assert.That(c.TokenIds, Is.Not.EqualTo(a.TokenIds));
        });
    }

    [Test]
    public async Task Sampling_uses_the_model_defaults_when_the_request_sets_nothing()
    {
        // generation_config.json: do_sample with top_k 40, so sampling differs from greedy for some seed.
        var greedy = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 40 });
        var sampled = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { Seed = 1, MaxNewTokens = 40 });

        Assert.That(sampled.TokenIds, Is.Not.EqualTo(greedy.TokenIds));
    }

    [Test]
    public async Task Temperature_zero_is_greedy()
    {
        var greedy = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 20 });
        var zero = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { Temperature = 0, Seed = 3, MaxNewTokens = 20 });

        Assert.That(zero.TokenIds, Is.EqualTo(greedy.TokenIds));
    }

    [Test]
    public async Task Cancellation_mid_stream_stops_within_one_token()
    {
        using var cts = new CancellationTokenSource();
        var received = 0;

        var ex = Assert.ThrowsAsync<GenerationCanceledException>(async () =>
        {
            await foreach (var token in Generator.StreamAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 100, Seed = 1 }, cts.Token))
            {
                received++;
                if (received == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(received, Is.EqualTo(3));
            Assert.That(ex, Is.InstanceOf<OperationCanceledException>());
            Assert.That(ex!.CancellationToken, Is.EqualTo(cts.Token));
            Assert.That(ex.PartialResult!.FinishReason, Is.EqualTo(FinishReason.Cancelled));
            Assert.That(ex.PartialResult.GeneratedTokenCount, Is.EqualTo(3));
        });
        await Task.CompletedTask;
    }

    [Test]
    public void Cancellation_before_the_first_token_throws()
    {
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.ThrowsAsync<GenerationCanceledException>(() => Generator.GenerateAsync("ROMEO:", null, cts.Token));
    }

    [Test]
    public async Task A_stop_sequence_split_across_tokens_is_found_and_not_emitted()
    {
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 30 };
        var tokens = new List<GeneratedToken>();
        await foreach (var t in Generator.StreamAsync("ROMEO:", options))
        {
            tokens.Add(t);
        }

        // Pick a stop sequence that starts inside one token's text and ends inside the next one's.
        var split = Enumerable.Range(1, tokens.Count - 2).First(i => tokens[i].Text.Length >= 2 && tokens[i + 1].Text.Length >= 2);
        var stop = tokens[split].Text[^2..] + tokens[split + 1].Text[..2];
        var full = string.Concat(tokens.Select(t => t.Text));
        var expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var streamed = new List<GeneratedToken>();
        await foreach (var t in Generator.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 30, StopSequences = [stop] }))
        {
            streamed.Add(t);
        }

        var result = streamed[^1].Result!;
        Assert.Multiple(() =>
        {
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Stop));
            Assert.That(result.Text, Is.EqualTo(expected));
            Assert.That(string.Concat(streamed.Select(t => t.Text)), Is.EqualTo(expected));
            Assert.That(result.Text, Does.Not.Contain(stop));
            Assert.That(result.TokenIds, Is.EqualTo(tokens.Take(result.TokenIds.Count).Select(t => t.Id)));
        });
    }

    [Test]
    public void An_over_long_prompt_gives_a_clear_error_before_any_work()
    {
        var ids = Enumerable.Repeat(859, 256).ToArray();

        var ex = Assert.ThrowsAsync<PromptTooLongException>(() => Generator.GenerateAsync(ids));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.PromptTokenCount, Is.EqualTo(256));
            Assert.That(ex.ContextLength, Is.EqualTo(256));
            Assert.That(ex.Message, Does.Contain("at most 255 tokens"));
        });
    }

    [Test]
    public async Task Generation_that_reaches_the_context_ends_with_length()
    {
        var ids = Enumerable.Repeat(859, 250).ToArray();

        var result = await Generator.GenerateAsync(ids, new GenerationOptions { MaxNewTokens = 100, DoSample = false });

        Assert.Multiple(() =>
        {
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Length));
            Assert.That(result.GeneratedTokenCount, Is.EqualTo(6));
        });
    }

    [Test]
    public async Task Default_length_comes_from_the_model_max_length()
    {
        var result = await Generator.GenerateAsync(Enumerable.Repeat(859, 240).ToArray(), new GenerationOptions { DoSample = false });

        Assert.That(result.PromptTokenCount + result.GeneratedTokenCount, Is.LessThanOrEqualTo(256));
    }

    [TestCase(nameof(GenerationOptions.TopP), 1.5f)]
    [TestCase(nameof(GenerationOptions.TopP), 0f)]
    [TestCase(nameof(GenerationOptions.Temperature), -0.5f)]
    [TestCase(nameof(GenerationOptions.MinP), 2f)]
    [TestCase(nameof(GenerationOptions.RepetitionPenalty), 0f)]
    [TestCase(nameof(GenerationOptions.TopK), -1f)]
    [TestCase(nameof(GenerationOptions.MaxNewTokens), 0f)]
    public void Invalid_settings_throw_naming_the_setting_before_any_token(string setting, float value)
    {
        var options = new GenerationOptions();
        var property = typeof(GenerationOptions).GetProperty(setting)!;
        property.SetValue(options, property.PropertyType == typeof(int?) ? (object)(int)value : value);

        var ex = Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
        {
            await foreach (var _ in Generator.StreamAsync("ROMEO:", options))
            {
                Assert.Fail("no token may be generated");
            }
        });

        Assert.That(ex!.ParamName, Is.EqualTo(setting));
    }

    [Test]
    public void Prompt_ids_outside_the_vocabulary_are_rejected()
    {
        var ex = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Generator.GenerateAsync([859, 5000]));

        Assert.That(ex!.Message, Does.Contain("5000").And.Contain("0..2047"));
    }

    [Test]
    public async Task An_empty_prompt_starts_from_bos()
    {
        var result = await Generator.GenerateAsync(string.Empty, new GenerationOptions { DoSample = false, MaxNewTokens = 3 });

        Assert.That(result.PromptTokenIds, Is.EqualTo(new[] { 0 }));
    }

    [Test]
    public async Task Concurrent_requests_each_get_their_single_request_output()
    {
        string[] prompts = ["ROMEO:", "JULIET:", "KING RICHARD III:", "First Citizen:"];
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 24 };
        var alone = new List<IReadOnlyList<int>>();
        foreach (var p in prompts)
        {
            alone.Add((await Generator.GenerateAsync(p, options)).TokenIds);
        }

        var together = await Task.WhenAll(prompts.Concat(prompts).Select(p => Task.Run(() => Generator.GenerateAsync(p, options))));

        for (var i = 0; i < together.Length; i++)
        {
            Assert.That(together[i].TokenIds, Is.EqualTo(alone[i % prompts.Length]), prompts[i % prompts.Length]);
        }
    }

    [Test]
    public async Task Result_carries_usage_and_timings()
    {
        var result = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 10 });

        Assert.Multiple(() =>
        {
            Assert.That(result.PromptTokenCount, Is.EqualTo(2));
            Assert.That(result.GeneratedTokenCount, Is.EqualTo(10));
            Assert.That(result.ExecutionProvider, Is.EqualTo("Cpu"));
            Assert.That(result.TimeToFirstToken, Is.GreaterThan(TimeSpan.Zero).And.LessThanOrEqualTo(result.TotalTime));
            Assert.That(result.TokensPerSecond, Is.GreaterThan(0));
        });
    }

    [Test]
    public async Task A_disposed_model_refuses_new_requests()
    {
        var model = GptModel.Load(TestPaths.TinyShakespeare);
        var generator = GptGenerator.Create(model);
        await generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 2 });
        model.Dispose();

        Assert.ThrowsAsync<ObjectDisposedException>(() => generator.GenerateAsync("ROMEO:", new GenerationOptions { MaxNewTokens = 2 }));
    }
}
