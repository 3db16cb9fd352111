using System.Text.Json;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>The hub fixtures' reference.json texts (transformers.js outputs): ids in both modes and decoded text.</summary>
[TestFixture]
public sealed class ReferenceTests
{
    public static IEnumerable<TestCaseData> ReferenceTexts()
    {
        foreach (var family in HubTokenizers.HubFamilies)
        {
            using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Hub(family), "reference.json")));
            foreach (var entry in document.RootElement.GetProperty("texts").EnumerateObject())
            {
                var e = entry.Value;
                yield return new TestCaseData(
                    family,
                    e.GetProperty("text").GetString()!,
                    e.GetProperty("ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    e.GetProperty("raw_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    e.GetProperty("decoded").GetString()!).SetName($"{family}: {entry.Name}");
            }
        }
    }

    [TestCaseSource(nameof(ReferenceTexts))]
    public void Encodes_and_decodes_as_transformers_js(string family, string text, int[] ids, int[] rawIds, string decoded)
    {
        var tokenizer = HubTokenizers.Get("hub/" + family);
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.Encode(text), Is.EqualTo(ids), "tokenizer(text)");
            Assert.That(tokenizer.Encode(text, addSpecialTokens: false), Is.EqualTo(rawIds), "tokenizer(text, add_special_tokens=False)");
            Assert.That(tokenizer.Decode(rawIds), Is.EqualTo(decoded), "decode");
        });
    }

    [TestCase("qwen3", null, 151645, 151643, null, 131072, 151669)]
    [TestCase("llama3", 128000, 128001, null, null, null, 128256)]
    [TestCase("gemma3", 2, 106, 0, 3, 32768, 262145)]
    [TestCase("mistral", 1, 2, null, 0, null, 32000)]
    public void Reads_special_tokens_and_sizes(string family, int? bos, int? eos, int? pad, int? unk, int? maxLength, int vocabularySize)
    {
        var tokenizer = HubTokenizers.Get("hub/" + family);
        Assert.Multiple(() =>
        {
            Assert.That(tokenizer.BosTokenId, Is.EqualTo(bos), "bos");
            Assert.That(tokenizer.EosTokenId, Is.EqualTo(eos), "eos");
            Assert.That(tokenizer.PadTokenId, Is.EqualTo(pad), "pad");
            Assert.That(tokenizer.UnknownTokenId, Is.EqualTo(unk), "unk");
            Assert.That(tokenizer.ModelMaxLength, Is.EqualTo(maxLength), "model_max_length");
            Assert.That(tokenizer.VocabularySize, Is.EqualTo(vocabularySize), "vocabulary size");
            Assert.That(tokenizer.AddsBosToken, Is.EqualTo(family is "gemma3" or "mistral"), "adds bos");
        });
    }

    [Test]
    public void Describes_each_pipeline()
    {
        var qwen = HubTokenizers.Get("hub/qwen3").Description;
        var gemma = HubTokenizers.Get("hub/gemma3").Description;
        var mistral = HubTokenizers.Get("hub/mistral").Description;
        Assert.Multiple(() =>
        {
            Assert.That(qwen.Model, Is.EqualTo("BPE (151643 tokens, 151387 merges, byte-level)"));
            Assert.That(qwen.Normalizer, Is.EqualTo("NFC"));
            Assert.That(qwen.PreTokenizer, Does.StartWith("Split(/(?i:'s|'t|'re|'ve|'m|'ll|'d)|").And.EndWith("/, Isolated) > ByteLevel(add_prefix_space: False, use_regex: False)"));
            Assert.That(qwen.PostProcessor, Is.EqualTo("ByteLevel (adds no tokens)"));
            Assert.That(qwen.Decoder, Is.EqualTo("ByteLevel"));
            Assert.That(qwen.AddedTokenCount, Is.EqualTo(26));
            Assert.That(gemma.Model, Is.EqualTo("BPE (262144 tokens, 514906 merges, byte_fallback, unk '<unk>' fused)"));
            Assert.That(gemma.PostProcessor, Is.EqualTo("TemplateProcessing (<bos> A)"));
            Assert.That(gemma.AddedTokenCount, Is.EqualTo(6415));
            Assert.That(mistral.Normalizer, Is.EqualTo("Prepend('▁') > Replace(' ' -> '▁')"));
            Assert.That(mistral.PreTokenizer, Is.EqualTo("none"));
            Assert.That(mistral.Decoder, Is.EqualTo("Replace(' ' -> ' ') > ByteFallback > Fuse > Strip(' ', start: 1, stop: 0)".Replace("Replace(' '", "Replace('▁'", StringComparison.Ordinal)));
        });
    }
}
