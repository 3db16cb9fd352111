using System.Diagnostics;
using System.Text;
using NUnit.Framework;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Tests.Tokenization;

[TestFixture]
public sealed class StreamingDetokenizerTests
{
    private const string MultiByteText = "héllo wörld — 日本語 🙂";

    private static readonly Lazy<GptTokenizer> Gpt2 = new(() =>
        GptTokenizer.Load(GptTokenizerTests.Gpt2Fixture, new TokenizerSettings("gpt2", null, false)));

    private static readonly Lazy<GptTokenizer> Shakespeare = new(() =>
        GptTokenizer.Load(TestPaths.TinyShakespeare, new TokenizerSettings("gpt2", null, false)));

    private static readonly Lazy<GptTokenizer> Llama = new(() =>
        GptTokenizer.Load(GptTokenizerTests.LlamaFixture, new TokenizerSettings("llama", 1, true)));

    private static readonly Lazy<GptTokenizer> Tiktoken = new(GptTokenizerTests.LoadTiktoken);

    public static IEnumerable<TestCaseData> LlamaReferenceTexts()
    {
        using var document = GptTokenizerTests.ReadReference(GptTokenizerTests.LlamaFixture);
        foreach (var entry in document.RootElement.GetProperty("tokenizer").EnumerateObject())
        {
            yield return new TestCaseData(entry.Value.GetProperty("text").GetString()!).SetArgDisplayNames(entry.Name);
        }

        yield return new TestCaseData(MultiByteText).SetArgDisplayNames("multi-byte");
        yield return new TestCaseData("  two leading spaces, then ♞ and ünïcödé 🙂🙂\n").SetArgDisplayNames("byte-fallback");
    }

    public static IEnumerable<TestCaseData> LlamaGreedyIds()
    {
        using var document = GptTokenizerTests.ReadReference(GptTokenizerTests.LlamaFixture);
        foreach (var entry in document.RootElement.GetProperty("greedy").EnumerateObject())
        {
            var ids = entry.Value.GetProperty("greedy_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            yield return new TestCaseData(ids).SetArgDisplayNames(entry.Name);
        }
    }

    [Test]
    public void ByteLevelBpe_multi_byte_characters_are_never_split()
    {
        var tokenizer = Gpt2.Value;
        var ids = tokenizer.Encode(MultiByteText);
        Assert.That(ids.Count(id => tokenizer.Decode([id]).Contains('\uFFFD', StringComparison.Ordinal)), Is.GreaterThan(2),
            "the text should split characters across byte tokens, or the test proves nothing");

        var fragments = Stream(tokenizer, ids, out var flushed);

        Assert.That(fragments, Has.None.Contains("\uFFFD"));
        Assert.That(flushed, Is.Empty);
        Assert.That(string.Concat(fragments), Is.EqualTo(tokenizer.Decode(ids)));
        Assert.That(string.Concat(fragments), Is.EqualTo(MultiByteText));
    }

    [TestCaseSource(nameof(LlamaReferenceTexts))]
    public void SentencePiece_streams_reference_texts_exactly(string text)
    {
        var tokenizer = Llama.Value;
        var ids = tokenizer.Encode(text);

        var fragments = Stream(tokenizer, ids, out var flushed);

        Assert.That(fragments, Has.None.Contains("\uFFFD"));
        Assert.That(flushed, Is.Empty);
        Assert.That(string.Concat(fragments), Is.EqualTo(tokenizer.Decode(ids)));
        Assert.That(string.Concat(fragments), Is.EqualTo(text));
    }

    [TestCaseSource(nameof(LlamaGreedyIds))]
    public void SentencePiece_streams_generated_ids_like_the_full_decode(int[] ids)
    {
        var tokenizer = Llama.Value;

        var fragments = Stream(tokenizer, ids, out var flushed);

        Assert.That(string.Concat(fragments) + flushed, Is.EqualTo(tokenizer.Decode(ids)));
    }

    [Test]
    public void SentencePiece_byte_fallback_text_is_held_until_the_character_is_complete()
    {
        var tokenizer = Llama.Value;
        var ids = tokenizer.Encode("日");
        Assert.That(ids.Count, Is.GreaterThanOrEqualTo(4), "expected bos + a space + three byte-fallback tokens");

        var detokenizer = new StreamingDetokenizer(tokenizer);
        var outputs = ids.Select(detokenizer.Append).ToList();

        Assert.That(outputs.Take(outputs.Count - 1), Has.All.Not.Contains("日"));
        Assert.That(outputs[^1], Is.EqualTo("日"));
        Assert.That(detokenizer.Flush(), Is.Empty);
    }

    [Test]
    public void SentencePiece_first_token_loses_its_leading_space_later_ones_keep_it()
    {
        var tokenizer = Llama.Value;
        // bos, "▁", "▁", then words: the full decode keeps one of the two spaces.
        int[] ids = [1, 1984, 1984, 870, 2007, 2, 2, 2, 2, 2, 1984, 870];

        var fragments = Stream(tokenizer, ids, out var flushed);

        Assert.That(string.Concat(fragments) + flushed, Is.EqualTo(tokenizer.Decode(ids)));
    }

    [Test]
    public void Flush_returns_an_unfinished_character()
    {
        var tokenizer = Gpt2.Value;
        var ids = tokenizer.Encode("ok 日本語");
        var detokenizer = new StreamingDetokenizer(tokenizer);

        var text = string.Concat(ids.Take(ids.Count - 1).Select(detokenizer.Append));
        var flushed = detokenizer.Flush();

        Assert.That(text + flushed, Is.EqualTo(tokenizer.Decode(ids.Take(ids.Count - 1))));
        Assert.That(flushed, Does.EndWith("\uFFFD"));
        Assert.That(detokenizer.Flush(), Is.Empty);
    }

    [Test]
    public void Reset_starts_a_new_output()
    {
        var tokenizer = Llama.Value;
        var detokenizer = new StreamingDetokenizer(tokenizer);
        foreach (var id in tokenizer.Encode("First Citizen:"))
        {
            detokenizer.Append(id);
        }

        detokenizer.Reset();
        var ids = tokenizer.Encode("ROMEO: 日本");
        var text = string.Concat(ids.Select(detokenizer.Append)) + detokenizer.Flush();

        Assert.That(text, Is.EqualTo("ROMEO: 日本"));
    }

    [TestCase("shakespeare")]
    [TestCase("gpt2")]
    [TestCase("tiktoken")]
    [TestCase("llama")]
    public void Random_ids_stream_exactly_like_the_full_decode(string which)
    {
        var tokenizer = which switch
        {
            "shakespeare" => Shakespeare.Value,
            "gpt2" => Gpt2.Value,
            "tiktoken" => Tiktoken.Value,
            _ => Llama.Value,
        };
        var vocabularySize = which switch
        {
            "shakespeare" => 2048,
            "llama" => 2048,
            _ => 50257,
        };
        var random = new Random(1234);

        for (var run = 0; run < 40; run++)
        {
            var ids = new int[random.Next(1, 80)];
            for (var i = 0; i < ids.Length; i++)
            {
                // Favour the low ids: byte tokens (GPT-2 0..255, SentencePiece 3..258) and specials.
                ids[i] = random.Next(4) == 0 ? random.Next(0, 300) : random.Next(0, vocabularySize);
            }

            var fragments = Stream(tokenizer, ids, out var flushed);

            Assert.That(string.Concat(fragments) + flushed, Is.EqualTo(tokenizer.Decode(ids)), $"run {run}: [{string.Join(", ", ids)}]");
        }
    }

    [Test]
    public void Work_per_token_does_not_grow_with_the_output()
    {
        var tokenizer = Gpt2.Value;
        var sentence = tokenizer.Encode("The quick brown fox jumps over the lazy dog, 日本語 🙂. ");
        var ids = Enumerable.Range(0, 20_000).Select(i => sentence[i % sentence.Count]).ToArray();
        var detokenizer = new StreamingDetokenizer(tokenizer);
        var actual = new StringBuilder();
        var widest = 0;

        foreach (var id in ids)
        {
            actual.Append(detokenizer.Append(id));
            widest = Math.Max(widest, detokenizer.WindowLength);
        }

        actual.Append(detokenizer.Flush());

        Assert.That(actual.ToString(), Is.EqualTo(tokenizer.Decode(ids)));
        // Each decode covers a bounded window (context + held-back ids + anchor), not the whole output.
        Assert.That(widest, Is.LessThanOrEqualTo(StreamingDetokenizer.ContextSize + StreamingDetokenizer.MaxPendingIds + 2));
    }

    private static List<string> Stream(GptTokenizer tokenizer, IEnumerable<int> ids, out string flushed)
    {
        var detokenizer = new StreamingDetokenizer(tokenizer);
        var fragments = ids.Select(detokenizer.Append).ToList();
        flushed = detokenizer.Flush();
        return fragments;
    }
}
