using System.Text.Json.Nodes;
using OnnxGpt.Tokenization;
using OracleTokenizer = Tokenizers.DotNet.Tokenizer;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>
/// Every supported component, also those no fixture family uses (Metaspace schemes, Digits, Punctuation, Whitespace,
/// WhitespaceSplit, each Split behavior and invert, NFKC, Lowercase, Strip, regex Replace, RobertaProcessing, added
/// tokens with lstrip/rstrip/single_word/normalized, the Metaspace and Strip decoders): a real vocabulary with the
/// component swapped in, compared with Hugging Face's Rust library on the hard cases and part of the corpus.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class ComponentOracleTests
{
    private const string ByteLevelLast = """{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}""";

    public static IEnumerable<TestCaseData> Variants()
    {
        // Byte-level vocabulary of the embedded model.
        yield return Variant("digits, punctuation, NFKC, lowercase, strip", "models/tiny-shakespeare", new()
        {
            ["normalizer"] = """{"type": "Sequence", "normalizers": [{"type": "NFKC"}, {"type": "Lowercase"}, {"type": "Strip", "strip_left": true, "strip_right": true}]}""",
            ["pre_tokenizer"] = """{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "Punctuation", "behavior": "Isolated"}, {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}]}""",
        });
        yield return Variant("whitespace split, regex replace, NFD", "models/tiny-shakespeare", new()
        {
            ["normalizer"] = """{"type": "Sequence", "normalizers": [{"type": "NFD"}, {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}]}""",
            ["pre_tokenizer"] = """{"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, """ + ByteLevelLast + "]}",
        });
        yield return Variant("split behaviors", "models/tiny-shakespeare", new()
        {
            ["pre_tokenizer"] = """{"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithNext", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\d"}, "behavior": "Contiguous", "invert": false}, {"type": "Split", "pattern": {"Regex": "[,.!?]"}, "behavior": "MergedWithPrevious", "invert": false}, {"type": "Split", "pattern": {"Regex": "\\p{L}+|\\s+|\\p{N}+"}, "behavior": "Removed", "invert": true}, """ + ByteLevelLast + "]}",
        });
        yield return Variant("whitespace, digits, roberta, added token flags", "models/tiny-shakespeare", new()
        {
            ["normalizer"] = """{"type": "Lowercase"}""",
            ["pre_tokenizer"] = """{"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, {"type": "Digits", "individual_digits": false}, """ + ByteLevelLast + "]}",
            ["post_processor"] = """{"type": "RobertaProcessing", "sep": ["<|endoftext|>", 0], "cls": ["<|endoftext|>", 0], "trim_offsets": true, "add_prefix_space": false}""",
            ["added_tokens"] = """[{"id": 0, "content": "<|endoftext|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}, {"id": 2048, "content": "<mask>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true}, {"id": 2049, "content": "[end]", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": false}, {"id": 2050, "content": "qzq", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false}, {"id": 2051, "content": "romeo", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}]""",
        });

        yield return Variant("nested sequences, lowercase with full case mapping", "models/tiny-shakespeare", new()
        {
            ["normalizer"] = """{"type": "Lowercase"}""",
            ["pre_tokenizer"] = """{"type": "Sequence", "pretokenizers": [{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}, {"type": "Sequence", "pretokenizers": []}]}, {"type": "Sequence", "pretokenizers": [{"type": "Punctuation", "behavior": "Isolated"}, """ + ByteLevelLast + "]}]}",
        });

        // SentencePiece-style vocabulary (Mistral's, with byte fallback).
        yield return Variant("metaspace first, split", "hub/mistral", new()
        {
            ["normalizer"] = "null",
            ["pre_tokenizer"] = """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}""",
            ["decoder"] = """{"type": "Sequence", "decoders": [{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": true}, {"type": "ByteFallback"}, {"type": "Fuse"}]}""",
        });
        yield return Variant("metaspace always, no split, punctuation", "hub/mistral", new()
        {
            ["normalizer"] = "null",
            ["pre_tokenizer"] = """{"type": "Sequence", "pretokenizers": [{"type": "Punctuation", "behavior": "Contiguous"}, {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": false}]}""",
            ["decoder"] = """{"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": false}, {"type": "Strip", "content": " ", "start": 2, "stop": 0}]}""",
        });
        yield return Variant("metaspace never, added tokens after text", "hub/mistral", new()
        {
            ["normalizer"] = """{"type": "NFKC"}""",
            ["pre_tokenizer"] = """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": true}""",
            ["decoder"] = """{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "never", "split": true}""",
        });
    }

    private static TestCaseData Variant(string name, string baseFamily, Dictionary<string, string> replacements) =>
        new TestCaseData(baseFamily, replacements).SetName($"Component variant: {name}");

    [TestCaseSource(nameof(Variants))]
    public void Equals_the_rust_library(string baseFamily, Dictionary<string, string> replacements)
    {
        using var temp = new TempDirectory();
        var node = JsonNode.Parse(File.ReadAllText(Path.Combine(HubTokenizers.Folder(baseFamily), "tokenizer.json")))!;
        foreach (var (key, json) in replacements)
        {
            node[key] = JsonNode.Parse(json);
        }

        File.WriteAllText(temp.File("tokenizer.json"), node.ToJsonString());
        node["post_processor"] = null;
        Directory.CreateDirectory(Path.Combine(temp.Path, "raw"));
        File.WriteAllText(Path.Combine(temp.Path, "raw", "tokenizer.json"), node.ToJsonString());

        var tokenizer = GptTokenizer.Load(temp.Path, new TokenizerSettings(null, null, false));
        using var oracle = new OracleTokenizer(temp.File("tokenizer.json"));
        using var rawOracle = new OracleTokenizer(Path.Combine(temp.Path, "raw", "tokenizer.json"));
        var failures = new List<string>();
        var texts = HubTokenizers.HardCases.Concat(HubTokenizers.CorpusTexts(400))
            .Concat(["qzq romeo AND Romeo <mask>  <mask>x [end]   y bqzq qzq_ qzq", "ROMEO [end]\n\nnext  <mask>"])
            .Concat(["İSTANBUL İi İ ΣΑΣ ΌΣΟΣ ǅ ẞ Ω K Å ᾈ 𐐀 ＡＢ"]);
        foreach (var text in texts)
        {
            var expected = oracle.Encode(text).Select(i => (int)i).ToArray();
            var expectedRaw = rawOracle.Encode(text).Select(i => (int)i).ToArray();
            var actual = tokenizer.Encode(text, addSpecialTokens: true).ToArray();
            var actualRaw = tokenizer.Encode(text, addSpecialTokens: false).ToArray();
            var expectedText = oracle.Decode([.. expected.Select(i => (uint)i)]);
            var actualText = tokenizer.Pipeline!.Decode(expected, skipSpecialTokens: true);
            if (!actual.SequenceEqual(expected) || !actualRaw.SequenceEqual(expectedRaw) || actualText != expectedText)
            {
                failures.Add($"{System.Text.Json.JsonSerializer.Serialize(text)}: ids [{string.Join(", ", expected)}] / [{string.Join(", ", actual)}], raw [{string.Join(", ", expectedRaw)}] / [{string.Join(", ", actualRaw)}], text {System.Text.Json.JsonSerializer.Serialize(expectedText)} / {System.Text.Json.JsonSerializer.Serialize(actualText)}");
                if (failures.Count >= 5)
                {
                    break;
                }
            }
        }

        Assert.That(failures, Is.Empty, "expected (Rust) / actual:\n" + string.Join('\n', failures));
    }
}
