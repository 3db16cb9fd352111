using System.Text.Json;
using System.Text.Json.Nodes;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>The tokenizer.json folders the tests run on, loaded once per test run, and the texts they compare.</summary>
internal static class HubTokenizers
{
    private static readonly Dictionary<string, GptTokenizer> Loaded = [];
    private static readonly Lock Gate = new();

    /// <summary>The four hub model folders.</summary>
    public static readonly string[] HubFamilies = ["qwen3", "llama3", "gemma3", "mistral"];

    /// <summary>Extra families (tokenizer.json + tokenizer_config.json only) under tests/fixtures/tokenizers.</summary>
    public static IEnumerable<string> ExtraFamilies =>
        Directory.Exists(Path.Combine(AppContext.BaseDirectory, "tokenizers"))
            ? Directory.GetDirectories(Path.Combine(AppContext.BaseDirectory, "tokenizers")).Select(d => "tokenizers/" + Path.GetFileName(d)).Order(StringComparer.Ordinal)
            : [];

    public static IEnumerable<string> AllFamilies => HubFamilies.Select(f => "hub/" + f).Concat(ExtraFamilies).Append("models/tiny-shakespeare");

    public static string Folder(string family) => Path.Combine(AppContext.BaseDirectory, family.Replace('/', Path.DirectorySeparatorChar));

    public static GptTokenizer Get(string family)
    {
        lock (Gate)
        {
            if (!Loaded.TryGetValue(family, out var tokenizer))
            {
                tokenizer = GptTokenizer.Load(Folder(family), new TokenizerSettings(null, null, false));
                Loaded[family] = tokenizer;
            }

            return tokenizer;
        }
    }

    /// <summary>Hard cases: scripts, marks, emoji sequences, whitespace runs, control characters, special tokens in text.</summary>
    public static readonly string[] HardCases =
    [
        string.Empty,
        " ",
        "\n",
        "   ",
        "\n\n\n",
        " \n \n\t\t  \r\n\r\n   x",
        "Hello world",
        "  two leading spaces and trailing   ",
        "你好，世界。今日は良い天気です。한국어 텍스트도 있습니다.",
        "مرحبا بالعالم، هذا اختبار.",
        "नमस्ते दुनिया, यह एक परीक्षण है।",
        "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs, 😀fin, a😀b",
        "e\u0301 a\u0308 n\u0303 Z\u0351\u0327 combining marks; precomposed é ä ñ",
        "control \u0001\u0002\u001b[31m red \u007f del \u200b zwsp \u00a0 nbsp",
        "tabs\tand\vvertical\fform feed",
        "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "<bos><start_of_turn>user\nHi<end_of_turn>\n<s>[INST] x [/INST]</s>",
        "text<|endoftext|>more<unk>and <mask> and <unused0>",
        "In 1597, 42 men paid 3.50 each (total: 147). 1234567890 ١٢٣ ½ ²",
        "def add(a, b):\n    return a + b  # sum\n",
        "It's I'M they'll WE'VE you'd 'tis",
        "𠀀𠀁 CJK extension B, 𝐀𝐁 math bold, 𝟎𝟏 math digits",
        "▁already▁has▁metaspace and ĠĊ byte-level chars",
        "<0x41> <0xFF> literal byte-token text",
        "ÿþ\u00ad soft hyphen \ufeff bom \ufffd replacement",
    ];

    /// <summary>Lines of Tiny Shakespeare, and blocks of several lines (newline runs included).</summary>
    public static IEnumerable<string> CorpusTexts(int lines)
    {
        var all = File.ReadAllLines(TestPaths.TinyShakespeareText);
        for (var i = 0; i < Math.Min(lines, all.Length); i++)
        {
            yield return all[i];
        }

        for (var i = 0; i + 20 < Math.Min(lines, all.Length); i += 97)
        {
            yield return string.Join('\n', all, i, 20) + "\n\n";
        }
    }

    /// <summary>
    /// A copy of the folder's tokenizer.json without its post-processor, for which the oracle's <c>Encode</c> (which
    /// always adds special tokens) gives Hugging Face's <c>add_special_tokens=False</c> ids.
    /// </summary>
    public static string WithoutPostProcessor(string family, string directory)
    {
        var node = JsonNode.Parse(File.ReadAllText(Path.Combine(Folder(family), "tokenizer.json")))!;
        node["post_processor"] = null;
        var path = Path.Combine(directory, "tokenizer.json");
        File.WriteAllText(path, node.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        return path;
    }
}
