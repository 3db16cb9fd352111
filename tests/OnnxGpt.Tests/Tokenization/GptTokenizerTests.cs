using System.Text.Json;
using Microsoft.ML.Tokenizers;
using NUnit.Framework;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Tests.Tokenization;

[TestFixture]
public sealed class GptTokenizerTests
{
    private static readonly TokenizerSettings Gpt2Settings = new("gpt2", null, false);
    private static readonly TokenizerSettings LlamaSettingsNoBos = new("llama", 1, false);
    private static readonly TokenizerSettings LlamaSettingsWithBos = new("llama", 1, true);

    private static readonly string[] AgreementTexts =
    [
        "Hello, world!",
        "  leading spaces\tand tabs\r\nand 'apostrophes' it's 123,456.78!?",
        "héllo wörld — 日本語 🙂",
        "a   b\n\n\n  c   ",
        "I'll say it's <|endoftext|> and then some",
        "",
    ];

    private readonly List<string> _directories = [];

    internal static string LlamaFixture => TestPaths.Fixture("tiny-llama-shakespeare");

    internal static string Gpt2Fixture => TestPaths.Fixture("gpt2-tiny");

    public static IEnumerable<TestCaseData> ShakespeareTokenizerCases() => TokenizerCases(TestPaths.TinyShakespeare, "tiny-shakespeare");

    public static IEnumerable<TestCaseData> LlamaTokenizerCases() => TokenizerCases(LlamaFixture, "tiny-llama-shakespeare");

    public static IEnumerable<TestCaseData> LlamaGreedyCases()
    {
        using var document = ReadReference(LlamaFixture);
        foreach (var entry in document.RootElement.GetProperty("greedy").EnumerateObject())
        {
            var prompt = entry.Value.GetProperty("prompt").GetString()!;
            var ids = entry.Value.GetProperty("prompt_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            yield return new TestCaseData(prompt, ids).SetArgDisplayNames(entry.Name);
        }
    }

    [TestCaseSource(nameof(ShakespeareTokenizerCases))]
    public void ByteLevelBpe_reproduces_reference_ids(string text, int[] expected)
    {
        var tokenizer = GptTokenizer.Load(TestPaths.TinyShakespeare, Gpt2Settings);

        Assert.That(tokenizer.Encode(text), Is.EqualTo(expected));
        Assert.That(tokenizer.Decode(expected), Is.EqualTo(text));
    }

    [TestCaseSource(nameof(LlamaTokenizerCases))]
    public void SentencePiece_reproduces_reference_ids_without_bos(string text, int[] expected)
    {
        var tokenizer = GptTokenizer.Load(LlamaFixture, LlamaSettingsNoBos);

        Assert.That(tokenizer.Encode(text), Is.EqualTo(expected));
        Assert.That(tokenizer.Decode(expected), Is.EqualTo(text));
    }

    [TestCaseSource(nameof(LlamaGreedyCases))]
    public void SentencePiece_with_bos_reproduces_prompt_ids(string prompt, int[] expected)
    {
        var tokenizer = GptTokenizer.Load(LlamaFixture, LlamaSettingsWithBos);

        Assert.That(expected[0], Is.EqualTo(1));
        Assert.That(tokenizer.Encode(prompt), Is.EqualTo(expected));
        Assert.That(tokenizer.Decode(expected), Is.EqualTo(prompt), "the bos marker must not appear in the text");
    }

    [Test]
    public void Loads_each_kind_from_the_files_present()
    {
        // The embedded model ships tokenizer.json beside vocab.json + merges.txt: tokenizer.json wins.
        var json = GptTokenizer.Load(TestPaths.TinyShakespeare, Gpt2Settings);
        using var older = new TempDirectory();
        File.Copy(Path.Combine(TestPaths.TinyShakespeare, "vocab.json"), older.File("vocab.json"));
        File.Copy(Path.Combine(TestPaths.TinyShakespeare, "merges.txt"), older.File("merges.txt"));
        var bpe = GptTokenizer.Load(older.Path, Gpt2Settings);
        var llama = GptTokenizer.Load(LlamaFixture, LlamaSettingsWithBos);
        var tiktoken = LoadTiktoken();

        Assert.Multiple(() =>
        {
            Assert.That(json.Kind, Is.EqualTo("tokenizer.json (BPE (2048 tokens, 1791 merges, byte-level))"));
            Assert.That(json.Pipeline, Is.Not.Null);
            Assert.That(bpe.InnerTokenizer, Is.InstanceOf<BpeTokenizer>());
            Assert.That(bpe.Kind, Is.EqualTo("byte-level BPE (vocab.json + merges.txt)"));
            Assert.That(bpe.AddsBosToken, Is.False);
            Assert.That(llama.InnerTokenizer, Is.InstanceOf<LlamaTokenizer>());
            Assert.That(llama.Kind, Is.EqualTo("SentencePiece BPE (tokenizer.model)"));
            Assert.That(llama.BosTokenId, Is.EqualTo(1));
            Assert.That(llama.AddsBosToken, Is.True);
            Assert.That(tiktoken.InnerTokenizer, Is.InstanceOf<TiktokenTokenizer>());
            Assert.That(tiktoken.Kind, Is.EqualTo("GPT-2 tiktoken (built-in)"));
        });
    }

    [Test]
    public void SentencePiece_bos_defaults_to_the_models_own_when_the_configuration_has_none()
    {
        var tokenizer = GptTokenizer.Load(LlamaFixture, new TokenizerSettings("llama", null, true));

        Assert.That(tokenizer.BosTokenId, Is.EqualTo(1));
        Assert.That(tokenizer.Encode("ROMEO:"), Is.EqualTo(new[] { 1, 870, 2007 }));
    }

    [Test]
    public void Gpt2_vocab_and_merges_encode_hello_world_like_gpt2()
    {
        var tokenizer = GptTokenizer.Load(Gpt2Fixture, Gpt2Settings);

        Assert.That(tokenizer.Encode("Hello, world!"), Is.EqualTo(new[] { 15496, 11, 995, 0 }));
    }

    [TestCaseSource(nameof(AgreementTexts))]
    public void Gpt2_vocab_and_merges_agree_with_tiktoken(string text)
    {
        var files = GptTokenizer.Load(Gpt2Fixture, Gpt2Settings);
        var tiktoken = LoadTiktoken();

        var ids = files.Encode(text);

        Assert.That(ids, Is.EqualTo(tiktoken.Encode(text)));
        Assert.That(files.Decode(ids), Is.EqualTo(text));
        Assert.That(tiktoken.Decode(ids), Is.EqualTo(text));
    }

    [Test]
    public void EndOfText_is_one_token_that_decodes_to_its_text()
    {
        var tokenizer = GptTokenizer.Load(Gpt2Fixture, Gpt2Settings);

        var ids = tokenizer.Encode("Hi<|endoftext|>");

        Assert.That(ids, Has.Count.EqualTo(2));
        Assert.That(ids[1], Is.EqualTo(50256));
        Assert.That(tokenizer.Decode(ids), Is.EqualTo("Hi<|endoftext|>"));
    }

    [Test]
    public void Folder_without_tokenizer_files_and_no_model_type_throws_ModelLoadException()
    {
        var directory = EmptyTempDirectory();

        var ex = Assert.Throws<ModelLoadException>(() => GptTokenizer.Load(directory, new TokenizerSettings(null, null, false)));

        Assert.That(ex!.ModelPath, Is.EqualTo(directory));
        Assert.That(ex.Message, Does.Contain("vocab.json").And.Contain("tokenizer.model").And.Contain("token ids"));
    }

    [Test]
    public void Non_gpt2_model_type_without_tokenizer_files_throws_ModelLoadException()
    {
        Assert.Throws<ModelLoadException>(() => GptTokenizer.Load(EmptyTempDirectory(), new TokenizerSettings("llama", 1, true)));
    }

    [Test]
    public void Corrupt_vocab_json_throws_ModelLoadException_naming_the_file()
    {
        var directory = EmptyTempDirectory();
        File.WriteAllText(Path.Combine(directory, "vocab.json"), "{ this is not json ]]");
        File.Copy(Path.Combine(Gpt2Fixture, "merges.txt"), Path.Combine(directory, "merges.txt"));

        var ex = Assert.Throws<ModelLoadException>(() => GptTokenizer.Load(directory, Gpt2Settings));

        Assert.That(ex!.Message, Does.Contain("vocab.json"));
        Assert.That(ex.InnerException, Is.Not.Null);
    }

    [Test]
    public void Corrupt_merges_txt_throws_ModelLoadException_naming_the_file()
    {
        var directory = EmptyTempDirectory();
        File.Copy(Path.Combine(TestPaths.TinyShakespeare, "vocab.json"), Path.Combine(directory, "vocab.json"));
        File.WriteAllText(Path.Combine(directory, "merges.txt"), "#version: 0.2\nthis line has three parts\n");

        var ex = Assert.Throws<ModelLoadException>(() => GptTokenizer.Load(directory, Gpt2Settings));

        Assert.That(ex!.Message, Does.Contain("merges.txt"));
    }

    [Test]
    public void Corrupt_tokenizer_model_throws_ModelLoadException_naming_the_file()
    {
        var directory = EmptyTempDirectory();
        File.WriteAllBytes(Path.Combine(directory, "tokenizer.model"), [0xFF, 0xFF, 0xFF, 0x07, 0x01, 0x02, 0x03]);

        var ex = Assert.Throws<ModelLoadException>(() => GptTokenizer.Load(directory, LlamaSettingsWithBos));

        Assert.That(ex!.Message, Does.Contain("tokenizer.model"));
        Assert.That(ex.InnerException, Is.Not.Null);
    }

    // Attribute arguments cannot carry a lone surrogate (they are stored as UTF-8), so the text is built here.
    [TestCase("a", 0xD800, "b")]
    [TestCase("end", 0xD83D, "")]
    [TestCase("", 0xDE42, "start")]
    [TestCase("ok 🙂", 0xDC00, "")]
    public void Lone_surrogate_throws_ArgumentException(string before, int surrogate, string after)
    {
        var text = before + (char)surrogate + after;
        var bpe = GptTokenizer.Load(Gpt2Fixture, Gpt2Settings);
        var llama = GptTokenizer.Load(LlamaFixture, LlamaSettingsWithBos);

        var ex = Assert.Throws<ArgumentException>(() => bpe.Encode(text));
        Assert.That(ex!.ParamName, Is.EqualTo("text"));
        Assert.That(ex.Message, Does.Contain("surrogate"));
        Assert.That(Assert.Throws<ArgumentException>(() => llama.Encode(text))!.ParamName, Is.EqualTo("text"));
    }

    [Test]
    public void Surrogate_pairs_are_fine()
    {
        var bpe = GptTokenizer.Load(Gpt2Fixture, Gpt2Settings);

        Assert.That(bpe.Decode(bpe.Encode("🙂")), Is.EqualTo("🙂"));
    }

    [TearDown]
    public void DeleteTempDirectories()
    {
        foreach (var directory in _directories)
        {
            Directory.Delete(directory, recursive: true);
        }

        _directories.Clear();
    }

    /// <summary>Loads GPT-2's built-in tiktoken tokenizer from a folder with no tokenizer files.</summary>
    internal static GptTokenizer LoadTiktoken()
    {
        var directory = NewTempDirectory();
        try
        {
            return GptTokenizer.Load(directory, Gpt2Settings);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    internal static JsonDocument ReadReference(string modelDirectory) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(modelDirectory, "reference.json")));

    private static string NewTempDirectory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "onnxgpt-tokenizer-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }

    private string EmptyTempDirectory()
    {
        var directory = NewTempDirectory();
        _directories.Add(directory);
        return directory;
    }

    private static IEnumerable<TestCaseData> TokenizerCases(string modelDirectory, string label)
    {
        using var document = ReadReference(modelDirectory);
        foreach (var entry in document.RootElement.GetProperty("tokenizer").EnumerateObject())
        {
            var text = entry.Value.GetProperty("text").GetString()!;
            var ids = entry.Value.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            yield return new TestCaseData(text, ids).SetArgDisplayNames(label, entry.Name);
        }
    }
}
