using System.Text.Json;
using OnnxGpt.Generation;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>
/// Streaming decode of tokenizer.json families: the streamed text of ids after a prompt is decode(prompt + ids) less
/// decode(prompt), never with a broken character; greedy generation on the hub folders streams the reference text.
/// </summary>
[TestFixture]
public sealed class StreamingTests
{
    public static IEnumerable<string> Families() => HubTokenizers.AllFamilies;

    [TestCaseSource(nameof(Families))]
    public void Streamed_text_is_what_the_ids_add_after_a_prompt(string family)
    {
        var tokenizer = HubTokenizers.Get(family);
        var prompt = tokenizer.Encode("User: say something.\n", addSpecialTokens: true).ToArray();
        var promptText = tokenizer.Decode(prompt);
        foreach (var text in HubTokenizers.HardCases.Concat(HubTokenizers.CorpusTexts(60)))
        {
            var ids = tokenizer.Encode(text, addSpecialTokens: false).ToArray();
            var detokenizer = new StreamingDetokenizer(tokenizer);
            var fragments = ids.Select(detokenizer.Append).ToList();
            fragments.Add(detokenizer.Flush());
            var whole = tokenizer.Decode([.. prompt, .. ids]);
            Assert.That(whole, Does.StartWith(promptText), $"{family}: decode(prompt) is not a prefix for {JsonSerializer.Serialize(text)}");
            Assert.That(string.Concat(fragments), Is.EqualTo(whole[promptText.Length..]), $"{family}: streamed {JsonSerializer.Serialize(text)}");
            foreach (var fragment in fragments)
            {
                Assert.That(HasBrokenSurrogate(fragment), Is.False, $"{family}: a fragment of {JsonSerializer.Serialize(text)} splits a character");
            }
        }
    }

    [TestCase("hub/mistral")]
    [TestCase("hub/gemma3")]
    public void Byte_fallback_tokens_complete_a_character_over_several_tokens(string family)
    {
        var tokenizer = HubTokenizers.Get(family);
        var pipeline = tokenizer.Pipeline!;
        int Byte(int b) => pipeline.IdOf($"<0x{b:X2}>")!.Value;
        var a = pipeline.IdOf(family == "hub/mistral" ? "▁a" : "a")!.Value;
        var detokenizer = new StreamingDetokenizer(tokenizer);

        // U+1F600 as four byte tokens, then a text token: nothing shows until the character is complete.
        var emoji = new[] { Byte(0xF0), Byte(0x9F), Byte(0x98), Byte(0x80) }.Select(detokenizer.Append).ToArray();
        var after = detokenizer.Append(a);
        Assert.That(emoji, Is.EqualTo(new[] { string.Empty, string.Empty, string.Empty, string.Empty }));
        Assert.That(after, Is.EqualTo(family == "hub/mistral" ? "😀 a" : "😀a"));

        // An invalid run becomes one U+FFFD per byte token, as Hugging Face's ByteFallback decoder writes it.
        detokenizer.Reset();
        var invalid = string.Concat(new[] { Byte(0xE4), Byte(0xB8), a }.Select(detokenizer.Append)) + detokenizer.Flush();
        Assert.That(invalid, Is.EqualTo(family == "hub/mistral" ? "\uFFFD\uFFFD a" : "\uFFFD\uFFFDa"));
        Assert.That(invalid, Is.EqualTo(tokenizer.Decode([a, Byte(0xE4), Byte(0xB8), a])[(family == "hub/mistral" ? 1 : 1)..]));

        // A run cut off by the end of the output.
        detokenizer.Reset();
        Assert.That(detokenizer.Append(Byte(0xE4)) + detokenizer.Flush(), Is.EqualTo("\uFFFD"));
    }

    public static IEnumerable<TestCaseData> GreedyCases()
    {
        // Gemma 3's tiny graph picks another first token than transformers.js on this ONNX Runtime build with the very
        // prompt ids the reference has (the tokenizer is not involved); the model loader's tests own that case.
        foreach (var family in HubTokenizers.HubFamilies.Where(f => f != "gemma3"))
        {
            using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(TestPaths.Hub(family), "reference.json")));
            foreach (var entry in document.RootElement.GetProperty("greedy").EnumerateObject())
            {
                var e = entry.Value;
                if (e.GetProperty("dtype").GetString() != "fp32")
                {
                    continue;
                }

                yield return new TestCaseData(
                    family,
                    e.GetProperty("prompt").GetString()!,
                    e.GetProperty("prompt_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    e.GetProperty("greedy_ids").EnumerateArray().Select(x => x.GetInt32()).ToArray(),
                    e.GetProperty("text").GetString()!).SetName($"Greedy {family} {entry.Name}");
            }
        }
    }

    /// <summary>
    /// The hub folder with its graph beside the tokenizer (the onnx/ layout is the model loader's concern): greedy ids
    /// equal transformers.js's although the graph's logits are padded past the vocabulary, and the streamed text is the
    /// reference text.
    /// </summary>
    [TestCaseSource(nameof(GreedyCases))]
    public async Task Greedy_generation_streams_the_reference_text(string family, string prompt, int[] promptIds, int[] greedyIds, string text)
    {
        using var dir = new TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.Hub(family)))
        {
            File.CreateSymbolicLink(dir.File(Path.GetFileName(file)), file);
        }

        File.CreateSymbolicLink(dir.File("model.onnx"), Path.Combine(TestPaths.Hub(family), "onnx", "model.onnx"));
        using var model = GptModel.Load(dir.Path);
        Assert.That(model.Info.VocabularySize, Is.GreaterThanOrEqualTo(model.Tokenizer!.VocabularySize!.Value), "logits at least as wide as the vocabulary");
        var streamed = new List<string>();
        GenerationResult? result = null;
        await foreach (var token in GptGenerator.Create(model).StreamAsync(prompt, new GenerationOptions { DoSample = false, MaxNewTokens = greedyIds.Length }))
        {
            streamed.Add(token.Text);
            result ??= token.Result;
        }

        var promptText = model.Tokenizer.Decode(promptIds);
        Assert.Multiple(() =>
        {
            Assert.That(result!.PromptTokenIds, Is.EqualTo(promptIds), "prompt ids");
            Assert.That(result.TokenIds, Is.EqualTo(greedyIds), "greedy ids");
            Assert.That(string.Concat(streamed), Is.EqualTo(text), "streamed text");
            Assert.That(string.Concat(streamed), Is.EqualTo(model.Tokenizer.Decode([.. promptIds, .. greedyIds])[promptText.Length..]), "decode(prompt + generated) - decode(prompt)");
            Assert.That(result.TokenIds.All(id => id < model.Tokenizer.VocabularySize), Is.True, "no padded id");
        });
    }

    private static bool HasBrokenSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }
}
