using OnnxGpt.Generation;
using OnnxGpt.Models;

namespace OnnxGpt.GenAI.Tests;

/// <summary>Greedy output through onnxruntime-genai equals the fixtures' Hugging Face reference ids exactly.</summary>
[Parallelizable(ParallelScope.All)]
public class GreedyReferenceTests
{
    private static readonly Lazy<GenAIGenerator> Shakespeare = new(() => Fixtures.Create(Fixtures.TinyShakespeare));
    private static readonly Lazy<GenAIGenerator> Gpt2Tiny = new(() => Fixtures.Create(Fixtures.Gpt2Tiny));

    public static IEnumerable<Fixtures.GreedyCase> ShakespeareCases => Fixtures.Greedy("tiny-shakespeare", Fixtures.TinyShakespeare);

    public static IEnumerable<Fixtures.GreedyCase> Gpt2TinyCases => Fixtures.Greedy("gpt2-tiny", Fixtures.Gpt2Tiny);

    [TestCaseSource(nameof(ShakespeareCases))]
    public async Task TinyShakespeare_text_prompt_gives_the_reference_ids(Fixtures.GreedyCase c)
    {
        var generator = Shakespeare.Value;
        var result = await generator.GenerateAsync(c.Prompt!, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });

        Assert.Multiple(() =>
        {
            Assert.That(result.PromptTokenIds, Is.EqualTo(c.PromptIds), "OnnxGpt's tokenizer gives the reference prompt ids");
            Assert.That(result.TokenIds, Is.EqualTo(c.GreedyIds));
            Assert.That(result.FinishReason, Is.EqualTo(c.GreedyIds[^1] == 0 ? FinishReason.Eos : FinishReason.Length));
            Assert.That(result.ExecutionProvider, Is.EqualTo("Cpu"));
            Assert.That(result.GeneratedTokenCount, Is.EqualTo(c.GreedyIds.Length));
            Assert.That(result.PromptTokenCount, Is.EqualTo(c.PromptIds.Length));
            Assert.That(result.Text, Is.EqualTo(generator.Tokenizer!.Decode(c.GreedyIds.Where(id => id != 0))));
            Assert.That(result.TimeToFirstToken, Is.GreaterThan(TimeSpan.Zero));
            Assert.That(result.TotalTime, Is.GreaterThanOrEqualTo(result.TimeToFirstToken));
            Assert.That(result.TokensPerSecond, Is.GreaterThan(0));
        });
    }

    [TestCaseSource(nameof(Gpt2TinyCases))]
    public async Task Gpt2Tiny_id_prompt_gives_the_reference_ids(Fixtures.GreedyCase c)
    {
        var result = await Gpt2Tiny.Value.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });

        Assert.Multiple(() =>
        {
            Assert.That(result.PromptTokenIds, Is.EqualTo(c.PromptIds));
            Assert.That(result.TokenIds, Is.EqualTo(c.GreedyIds));
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Length));
        });
    }

    [Test]
    public async Task Greedy_output_equals_the_core_backend_with_repetition_penalty_and_no_repeat_ngram()
    {
        using var model = GptModel.Load(Fixtures.TinyShakespeare);
        var core = GptGenerator.Create(model);
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 48, RepetitionPenalty = 1.3f, NoRepeatNGramSize = 3 };

        var expected = await core.GenerateAsync("KING RICHARD III:", options);
        var actual = await Shakespeare.Value.GenerateAsync("KING RICHARD III:", options);

        Assert.That(actual.TokenIds, Is.EqualTo(expected.TokenIds));
        Assert.That(actual.Text, Is.EqualTo(expected.Text));
    }

    [Test]
    public async Task Streamed_texts_concatenate_to_the_result_and_only_the_last_token_carries_it()
    {
        var tokens = new List<GeneratedToken>();
        await foreach (var token in Shakespeare.Value.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 30 }))
        {
            tokens.Add(token);
        }

        var result = tokens[^1].Result!;
        Assert.Multiple(() =>
        {
            Assert.That(tokens, Has.Count.EqualTo(30));
            Assert.That(tokens.Select(t => t.Index), Is.EqualTo(Enumerable.Range(0, 30)));
            Assert.That(tokens.Take(29).Select(t => t.Result), Is.All.Null);
            Assert.That(string.Concat(tokens.Select(t => t.Text)), Is.EqualTo(result.Text));
            Assert.That(tokens.Select(t => t.Id), Is.EqualTo(result.TokenIds));
            Assert.That(tokens[^1].FinishReason, Is.EqualTo(FinishReason.Length));
        });
    }

    [Test]
    public async Task Concurrent_requests_each_get_the_reference_output()
    {
        var c = ShakespeareCases.First();
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length };
        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Shakespeare.Value.GenerateAsync(c.PromptIds, options))));

        Assert.That(results.Select(r => r.TokenIds), Is.All.EqualTo(c.GreedyIds));
    }

    [Test]
    public async Task A_stop_sequence_ends_the_generation_and_is_not_emitted()
    {
        var full = await Shakespeare.Value.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 40 });
        var stop = "book";
        var at = full.Text.IndexOf(stop, StringComparison.Ordinal);
        Assume.That(at, Is.GreaterThan(0), full.Text);

        var result = await Shakespeare.Value.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 40, StopSequences = [stop] });

        Assert.Multiple(() =>
        {
            Assert.That(result.FinishReason, Is.EqualTo(FinishReason.Stop));
            Assert.That(result.Text, Is.EqualTo(full.Text[..at]));
            Assert.That(result.GeneratedTokenCount, Is.LessThan(full.GeneratedTokenCount));
        });
    }

    [Test]
    public async Task Sampling_with_a_seed_repeats_and_a_different_seed_differs()
    {
        var options = new GenerationOptions { DoSample = true, Temperature = 1.2f, TopK = 40, TopP = 0.95f, Seed = 7, MaxNewTokens = 40 };
        var a = await Shakespeare.Value.GenerateAsync("ROMEO:", options);
        var b = await Shakespeare.Value.GenerateAsync("ROMEO:", options);
        var c = await Shakespeare.Value.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = true, Temperature = 1.2f, TopK = 40, TopP = 0.95f, Seed = 8, MaxNewTokens = 40 });

        Assert.That(b.TokenIds, Is.EqualTo(a.TokenIds));
        Assert.That(c.TokenIds, Is.Not.EqualTo(a.TokenIds));
    }

    [Test]
    public void Model_info_comes_from_the_configuration_files_and_the_graph()
    {
        var info = Shakespeare.Value.ModelInfo;
        Assert.Multiple(() =>
        {
            Assert.That(info.ContextLength, Is.EqualTo(256));
            Assert.That(info.VocabularySize, Is.EqualTo(2048));
            Assert.That(info.EosTokenIds, Is.EqualTo(new[] { 0 }));
            Assert.That(info.BosTokenId, Is.EqualTo(0));
            Assert.That(info.LayerCount, Is.EqualTo(4));
            Assert.That(info.AttentionHeads, Is.EqualTo(8));
            Assert.That(info.KeyValueHeads, Is.EqualTo(8));
            Assert.That(info.HeadSize, Is.EqualTo(32));
            Assert.That(info.CacheConvention, Is.EqualTo(KvCacheConvention.SeparateKeyValue));
            Assert.That(info.CacheElementType, Is.EqualTo("float32"));
            Assert.That(info.HasPositionIds, Is.True);
            Assert.That(info.GraphPath, Is.EqualTo(Path.Combine(Fixtures.TinyShakespeare, "model.onnx")));
            Assert.That(info.GraphFormat, Does.Contain("onnxruntime-genai"));
            Assert.That(info.TokenizerKind, Does.Contain("BPE"));
            Assert.That(info.Defaults.DoSample, Is.True);
            Assert.That(Shakespeare.Value.ExecutionProvider, Is.EqualTo("Cpu"));
        });
    }
}
