using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.ML.Tokenizers;
using OnnxGpt.Tokenization;
using OnnxGpt.Tokenization.TokenizerJson;
using OracleTokenizer = Tokenizers.DotNet.Tokenizer;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>
/// OnnxGpt's merge for SentencePiece-style (not byte-level) BPE, <see cref="SentencePieceBpe"/>, against Hugging Face's
/// Rust library on small hand-made vocabularies that reach every branch: byte fallback with every byte or only some,
/// <c>fuse_unk</c> on and off, no unknown token, <c>ignore_merges</c>, <c>continuing_subword_prefix</c> and
/// <c>end_of_word_suffix</c>, a pair merged twice, tied ranks at several positions, long words, merges across the place
/// before a '▁' (where a word must not be split) and places where it may be.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class SentencePieceBpeTests
{
    private static readonly string[] Texts =
    [
        string.Empty,
        "a",
        "abcde",
        "▁a▁ab▁abc▁abcd▁abcde",
        "aaaaaaa",
        "abababab",
        "cdcdcdcdcd e de dede",
        "aébc",
        "ééa",
        "éé",
        "xyz",
        "a😀b",
        "😀😀",
        "\n\t a b",
        "ab\u0301c",
        "abcde abcde  abcde   abcde",
        string.Concat(Enumerable.Repeat("abcdeé▁", 200)),

        // Where a word may split before '▁' and where not: "▁ ▁" and "e ▁a" merge across it, a byte-fallback or
        // unknown character, a surrogate pair or a combining mark before it.
        "▁▁a▁▁▁ab▁▁",
        "e▁ab▁e▁a▁abc▁de▁a",
        "ab▁e▁▁a",
        "ü▁a▁ü▁▁ab",
        "😀▁ab😀▁▁a",
        "ab\u0301▁ab",
        "xy▁ab▁x▁a",
        "▁",
        "▁▁",
        string.Concat(Enumerable.Repeat("▁abc▁e▁a", 100)),
    ];

    public static IEnumerable<TestCaseData> Variants()
    {
        yield return new TestCaseData(true, 256, true, "<unk>", false, null, null).SetName("Byte fallback, every byte, fuse_unk");
        yield return new TestCaseData(true, 128, true, "<unk>", false, null, null).SetName("Byte fallback, ASCII bytes only, fuse_unk");
        yield return new TestCaseData(true, 128, false, "<unk>", false, null, null).SetName("Byte fallback, ASCII bytes only, no fuse_unk");
        yield return new TestCaseData(false, 0, false, "<unk>", false, null, null).SetName("Unknown token, no fuse_unk");
        yield return new TestCaseData(false, 0, true, "<unk>", false, null, null).SetName("Unknown token, fuse_unk");
        yield return new TestCaseData(false, 0, false, null, false, null, null).SetName("No unknown token: unknown characters are dropped");
        yield return new TestCaseData(true, 256, true, "<unk>", true, null, null).SetName("ignore_merges");
        yield return new TestCaseData(false, 0, false, "<unk>", false, "##", "</w>").SetName("continuing_subword_prefix and end_of_word_suffix");
        yield return new TestCaseData(true, 128, true, "<unk>", false, "##", null).SetName("Prefix with byte fallback");
    }

    [TestCaseSource(nameof(Variants))]
    public void Merges_as_the_rust_library(bool byteFallback, int byteTokens, bool fuseUnknown, string? unknown, bool ignoreMerges, string? prefix, string? suffix)
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("tokenizer.json"), TokenizerJson(byteFallback, byteTokens, fuseUnknown, unknown, ignoreMerges, prefix, suffix));
        var tokenizer = GptTokenizer.Load(temp.Path, new TokenizerSettings(null, null, false));
        using var oracle = new OracleTokenizer(temp.File("tokenizer.json"));
        Assert.That(tokenizer.Pipeline!.Model.ByteLevel, Is.False);
        Assert.Multiple(() =>
        {
            foreach (var text in Texts)
            {
                var expected = oracle.Encode(text).Select(id => (int)id).ToArray();
                Assert.That(tokenizer.Encode(text, addSpecialTokens: false), Is.EqualTo(expected), JsonSerializer.Serialize(text));

                // Twice: the second answer comes from the word cache.
                Assert.That(tokenizer.Encode(text, addSpecialTokens: false), Is.EqualTo(expected), JsonSerializer.Serialize(text) + " (cached)");
            }
        });
    }

    [Test]
    public void Byte_fallback_splits_a_character_into_its_bytes_and_merges_pairs_leftmost_first()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("tokenizer.json"), TokenizerJson(true, 256, true, "<unk>", false, null, null));
        var pipeline = TokenizerJsonLoader.Load(temp.File("tokenizer.json"), temp.Path);
        string[] Tokens(string text) => [.. pipeline.Encode(text, addSpecialTokens: false).Select(id => pipeline.TokenOf(id)!)];
        Assert.Multiple(() =>
        {
            Assert.That(Tokens("aü"), Is.EqualTo(new[] { "a", "<0xC3>", "<0xBC>" }));
            Assert.That(Tokens("abcde"), Is.EqualTo(new[] { "abcde" }));

            // "a a" merges at rank 0 wherever it occurs: the leftmost pair first, so "aaa" is "aa" + "a".
            Assert.That(Tokens("aaa"), Is.EqualTo(new[] { "aa", "a" }));

            // "c d" is given twice: its last rank counts (after "d e"), as in the Rust library's merge map.
            Assert.That(Tokens("cdcde"), Is.EqualTo(new[] { "cd", "c", "de" }));
        });
    }

    [Test]
    public void Words_split_before_a_marker_only_where_no_merge_joins_across()
    {
        using var temp = new TempDirectory();
        File.WriteAllText(temp.File("tokenizer.json"), TokenizerJson(true, 128, true, "<unk>", false, null, null));
        var merge = TokenizerJsonLoader.Load(temp.File("tokenizer.json"), temp.Path).Model.SentencePieceMerge!;
        using var affixed = new TempDirectory();
        File.WriteAllText(affixed.File("tokenizer.json"), TokenizerJson(false, 0, false, "<unk>", false, "##", "</w>"));
        var gemma = HubTokenizers.Get("hub/gemma3").Pipeline!.Model.SentencePieceMerge!;
        var mistral = HubTokenizers.Get("hub/mistral").Pipeline!.Model.SentencePieceMerge!;
        Assert.Multiple(() =>
        {
            // "e ▁a" and "▁ ▁" merge across; 'ü' and '😀' are byte-fallback or unknown symbols, 'x' is no token.
            Assert.That(merge.SplitsWords, Is.True);
            Assert.That("abcdé".Select(merge.SplitsBeforeMarkerAfter), Is.All.True);
            Assert.That("e▁üx\uD83D\uDE00".Select(merge.SplitsBeforeMarkerAfter), Is.All.False);

            // With continuing_subword_prefix or end_of_word_suffix a symbol's token depends on its place: no split.
            Assert.That(TokenizerJsonLoader.Load(affixed.File("tokenizer.json"), affixed.Path).Model.SentencePieceMerge!.SplitsWords, Is.False);

            // The real vocabularies: only '▁' (and, in Gemma 3, a byte token's '>') comes before a '▁'-initial token in a merge.
            Assert.That(gemma.SplitsWords && mistral.SplitsWords, Is.True);
            Assert.That("a.,\n".Select(gemma.SplitsBeforeMarkerAfter), Is.All.True);
            Assert.That("▁>".Select(gemma.SplitsBeforeMarkerAfter), Is.All.False);
            Assert.That("a.,>".Select(mistral.SplitsBeforeMarkerAfter), Is.All.True);
            Assert.That(mistral.SplitsBeforeMarkerAfter('▁'), Is.False);
        });
    }

    [Test]
    public void The_library_tokenizer_is_built_only_when_asked_for()
    {
        var gemma = HubTokenizers.Get("hub/gemma3");
        Assert.Multiple(() =>
        {
            Assert.That(gemma.InnerTokenizer, Is.InstanceOf<BpeTokenizer>());
            Assert.That(((BpeTokenizer)gemma.InnerTokenizer).Vocabulary, Has.Count.EqualTo(262144));
        });
    }

    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""", "the key 'model' appears twice")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0}, "vocab": {"b": 0}, "merges": []}}""", "the key 'model.vocab' appears twice")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "merges": []}}""", "the key 'model.merges' appears twice")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}""", "model.merges do not fit model.vocab: model.merges[0] merges 'a' and 'b', but 'ab' is not in model.vocab")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0, "ab": 1}, "merges": [["a", "b"]]}}""", "model.merges[0] merges 'a' and 'b', but 'b' is not in model.vocab")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [["a", "a", "a"]]}}""", "model.merges[0] is neither \"left right\" nor [\"left\", \"right\"]")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [7]}}""", "model.merges[0] is neither")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": {"a": 1}}}""", "model.merges is not an array")]
    [TestCase("""{"model": {"type": "BPE", "vocab": [], "merges": []}}""", "model.vocab is missing or not an object")]
    [TestCase("""{"model": {"type": "BPE", "vocab": {"a": 0, "b": [1]}, "merges": []}}""", "model.vocab[\"b\"] is [1], not a non-negative integer id")]
    public void Malformed_vocabularies_and_merges_fail_clearly(string json, string expected)
    {
        var ex = Assert.Throws<ModelLoadException>(() => TokenizerJsonLoader.Parse(Encoding.UTF8.GetBytes(json), "model-dir"));
        Assert.That(ex!.Message, Does.Contain(expected));
    }

    [Test]
    public void Escaped_strings_in_the_vocabulary_and_merges_are_read_unescaped()
    {
        const string json = """{"model": {"type": "BPE", "unk_token": null, "vocab": {"\n": 0, "\u0061": 1, "\n\u0061": 2, "\"": 3}, "merges": ["\n a", ["\"", "a"]]}}""";
        var ex = Assert.Throws<ModelLoadException>(() => TokenizerJsonLoader.Parse(Encoding.UTF8.GetBytes(json), "model-dir"));
        Assert.That(ex!.Message, Does.Contain("merges '\"' and 'a', but '\"a' is not in model.vocab"));

        var pipeline = TokenizerJsonLoader.Parse(Encoding.UTF8.GetBytes(json.Replace(", [\"\\\"\", \"a\"]", string.Empty, StringComparison.Ordinal)), "model-dir");
        Assert.That(pipeline.Encode("a\na\"", addSpecialTokens: false), Is.EqualTo(new[] { 1, 2, 3 }));
    }

    /// <summary>A tokenizer.json without normalizer, pre-tokenizer or post-processor over the letters a-e and ▁.</summary>
    private static string TokenizerJson(bool byteFallback, int byteTokens, bool fuseUnknown, string? unknown, bool ignoreMerges, string? prefix, string? suffix)
    {
        var vocab = new JsonObject();
        void Add(string token)
        {
            if (!vocab.ContainsKey(token))
            {
                vocab[token] = vocab.Count;
            }
        }

        Add("<unk>");
        for (var b = 0; b < byteTokens; b++)
        {
            Add($"<0x{b:X2}>");
        }

        var p = prefix ?? string.Empty;
        var s = suffix ?? string.Empty;
        foreach (var c in new[] { "a", "b", "c", "d", "e", "▁", "é" })
        {
            Add(c);
            Add(p + c);
            Add(c + s);
            Add(p + c + s);
        }

        // Pairs, by rank: "c d" appears twice (the last rank counts), "a a" overlaps itself.
        (string Left, string Right)[] merges =
        [
            ("a", "a"), ("c", "d"), ("a", "b"), ("ab", "c"), ("cd", "e"), ("▁", "a"), ("d", "e"), ("abc", "de"), ("b", "c"),
            ("c", "d"), ("▁a", "b"), ("▁ab", "c"), ("é", "é"), ("a", "é"), ("▁", "▁"), ("e", "▁a"), ("▁▁", "a"),
        ];
        if (byteTokens == 256 && prefix is null)
        {
            // A byte-fallback token merged with a '▁'-initial token: 'ü' (bytes C3 BC) before "▁a" joins it.
            merges = [.. merges, ("<0xBC>", "▁a")];
        }

        var mergeArray = new JsonArray();
        foreach (var (left, right) in merges)
        {
            // As the Rust library: the right part carries the prefix, the merged token drops it.
            string[] lefts = prefix is null ? [left] : [left, p + left];
            string[] rights = suffix is null ? [right] : [right, right + s];
            foreach (var l in lefts)
            {
                foreach (var r in rights)
                {
                    var right2 = p + r;
                    Add(l + r);
                    Add(l);
                    Add(right2);
                    mergeArray.Add(new JsonArray(l, right2));
                }
            }
        }

        var model = new JsonObject
        {
            ["type"] = "BPE",
            ["dropout"] = null,
            ["unk_token"] = unknown,
            ["continuing_subword_prefix"] = prefix,
            ["end_of_word_suffix"] = suffix,
            ["fuse_unk"] = fuseUnknown,
            ["byte_fallback"] = byteFallback,
            ["ignore_merges"] = ignoreMerges,
            ["vocab"] = vocab,
            ["merges"] = mergeArray,
        };
        if (prefix is not null || suffix is not null)
        {
            return new JsonObject
            {
                ["version"] = "1.0",
                ["added_tokens"] = new JsonArray(),
                ["normalizer"] = null,
                ["pre_tokenizer"] = JsonNode.Parse("""{"type": "WhitespaceSplit"}"""),
                ["post_processor"] = null,
                ["decoder"] = null,
                ["model"] = model,
            }.ToJsonString();
        }

        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(),
            ["normalizer"] = null,
            ["pre_tokenizer"] = null,
            ["post_processor"] = null,
            ["decoder"] = null,
            ["model"] = model,
        }.ToJsonString();
    }
}
