using System.Text;
using System.Text.Json.Nodes;
using OnnxGpt.Tokenization;
using OnnxGpt.Tokenization.TokenizerJson;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>Bad tokenizer.json files: each fails at load with a <see cref="ModelLoadException"/> that says what is wrong and where.</summary>
[TestFixture]
public sealed class LoaderErrorTests
{
    private static readonly string BaseJson = File.ReadAllText(Path.Combine(TestPaths.TinyShakespeare, "tokenizer.json"));

    private static string Edit(Action<JsonNode> edit)
    {
        var node = JsonNode.Parse(BaseJson)!;
        edit(node);
        return node.ToJsonString();
    }

    private static ModelLoadException LoadFails(string json) =>
        Assert.Throws<ModelLoadException>(() => TokenizerJsonLoader.Parse(Encoding.UTF8.GetBytes(json), "model-dir"))!;

    public static IEnumerable<TestCaseData> BadFiles()
    {
        yield return new TestCaseData(Edit(n => n["pre_tokenizer"] = JsonNode.Parse("""{"type": "Sequence", "pretokenizers": [{"type": "Digits"}, {"type": "Punctuation"}, {"type": "UnicodeScripts"}]}""")),
            "pre_tokenizer.pretokenizers[2].type = \"UnicodeScripts\" is not supported").SetName("An unsupported pre-tokenizer names its path and type");
        yield return new TestCaseData(Edit(n => n["normalizer"] = JsonNode.Parse("""{"type": "BertNormalizer"}""")),
            "normalizer.type = \"BertNormalizer\" is not supported").SetName("An unsupported normalizer");
        yield return new TestCaseData(Edit(n => n["decoder"] = JsonNode.Parse("""{"type": "Sequence", "decoders": [{"type": "WordPiece"}]}""")),
            "decoder.decoders[0].type = \"WordPiece\" is not supported").SetName("An unsupported decoder");
        yield return new TestCaseData(Edit(n => n["post_processor"] = JsonNode.Parse("""{"type": "Sequence", "processors": [{"type": "ByteLevel"}, {"type": "Mystery"}]}""")),
            "post_processor.processors[1].type = \"Mystery\" is not supported").SetName("An unsupported post-processor");
        yield return new TestCaseData(Edit(n => n["model"]!["type"] = "Unigram"), "model.type = \"Unigram\" is not supported").SetName("An unsupported model");
        yield return new TestCaseData(Edit(n => n["pre_tokenizer"] = JsonNode.Parse("""{"type": "Split", "pattern": {"Regex": "\\p{Han}+"}, "behavior": "Isolated"}""")),
            "pre_tokenizer.pattern.Regex cannot be run with Oniguruma's meaning").SetName("A regex .NET cannot reproduce");
        yield return new TestCaseData(Edit(n => n["pre_tokenizer"] = JsonNode.Parse("""{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways"}""")),
            "pre_tokenizer.behavior = \"Sideways\" is not supported").SetName("An unknown split behavior");
        yield return new TestCaseData("{\"model\": {\"type\": \"BPE\", ", "is not valid JSON").SetName("Malformed JSON");
        yield return new TestCaseData("[1, 2]", "not a JSON object").SetName("Not an object");
        yield return new TestCaseData(Edit(n => n["model"]!["vocab"]!["Ġthe"] = -3), "model.vocab[\"Ġthe\"] is -3, not a non-negative integer id").SetName("A negative id");
        yield return new TestCaseData(Edit(n => n["model"]!["vocab"]!["Ġthe"] = 5), "the id 5 is given to both").SetName("A duplicated id");
        yield return new TestCaseData(Edit(n => n["model"]!["vocab"]!["Ġthe"] = "x"), "not a non-negative integer id").SetName("An id of the wrong type");
        yield return new TestCaseData(Edit(n => n["model"]!["vocab"]!["Ġthe"] = 99_999_999), "implausibly large").SetName("An id out of range");
        yield return new TestCaseData(Edit(n => n["added_tokens"]![0]!["id"] = 5), "gives the id 5 to '<|endoftext|>', but that id is").SetName("An added token contradicting the vocabulary");
        yield return new TestCaseData(Edit(n => n["added_tokens"] = JsonNode.Parse("""[{"id": 2048, "content": "Ġthe", "special": false}]""")), "gives 'Ġthe' the id 2048, but it already has the id").SetName("An added token with another id than its vocabulary entry");
        yield return new TestCaseData(Edit(n => ((JsonArray)n["model"]!["merges"]!).Add("Ġthe zzzz")), "model.merges do not fit model.vocab").SetName("A merge of unknown tokens");
        yield return new TestCaseData(Edit(n => ((JsonArray)n["model"]!["merges"]!).Add("nospace")), "model.merges[1791] is \"nospace\"").SetName("A malformed merge");
        yield return new TestCaseData(Edit(n => n["model"]!["unk_token"] = "<nope>"), "model.unk_token '<nope>' is not in model.vocab").SetName("An unknown unk token");
        yield return new TestCaseData(Edit(n => n["model"]!["dropout"] = 0.1), "model.dropout = \"0.1\" is not supported").SetName("BPE dropout");
        yield return new TestCaseData(Edit(n => n["post_processor"] = JsonNode.Parse("""{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}}""")),
            "post_processor.single[0]: the token '<bos>' is neither in model.vocab nor in added_tokens").SetName("A template naming a missing token");
        yield return new TestCaseData(Edit(n => n["pre_tokenizer"] = JsonNode.Parse("""{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Digits"}]}""")),
            "pre_tokenizer.pretokenizers[0].type = \"ByteLevel\" is not supported").SetName("ByteLevel before another pre-tokenizer");
    }

    [TestCaseSource(nameof(BadFiles))]
    public void Fails_with_a_clear_model_load_exception(string json, string expected)
    {
        var ex = LoadFails(json);
        Assert.That(ex.Message, Does.Contain("tokenizer.json").And.Contain(expected));
    }

    [Test]
    public void A_vocabulary_larger_than_the_logits_fails_at_model_load()
    {
        using var dir = new TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.TinyShakespeare))
        {
            File.Copy(file, dir.File(Path.GetFileName(file)));
        }

        File.WriteAllText(dir.File("tokenizer.json"), Edit(n => n["added_tokens"] = JsonNode.Parse("""[{"id": 2048, "content": "<extra>", "special": true}]""")));
        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));
        Assert.That(ex!.Message, Does.Contain("the tokenizer has 2049 token ids but the graph scores only 2048"));
    }

    [Test]
    public void A_tokenizer_config_naming_a_missing_token_fails()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("tokenizer.json"), BaseJson);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"eos_token": "<|nope|>"}""");
        var ex = Assert.Throws<ModelLoadException>(() => GptTokenizer.Load(dir.Path, new TokenizerSettings(null, null, false)));
        Assert.That(ex!.Message, Does.Contain("tokenizer_config.json names '<|nope|>' as eos_token"));
    }

    /// <summary>
    /// Seeded mutations of a real tokenizer.json (values swapped for hostile ones, keys dropped, types renamed, bytes
    /// flipped, truncation): loading only ever throws <see cref="ModelLoadException"/>, and what loads encodes and decodes.
    /// </summary>
    [Test]
    public void Fuzzed_files_give_only_model_load_exceptions()
    {
        var random = new Random(20261201);
        var outcomes = new Dictionary<string, int>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        var iterations = 0;
        for (; iterations < 400 && DateTime.UtcNow < deadline; iterations++)
        {
            var (json, mutation) = Mutate(random);
            string outcome;
            try
            {
                var pipeline = TokenizerJsonLoader.Parse(json, "model-dir");
                var ids = pipeline.Encode("ROMEO: But, soft! 123 héllo 😀 <|endoftext|>", addSpecialTokens: true);
                _ = pipeline.Decode(ids);
                _ = pipeline.Decode([-1, 0, 1, int.MaxValue]);
                outcome = "loaded";
            }
            catch (ModelLoadException)
            {
                outcome = "ModelLoadException";
            }
            catch (Exception ex)
            {
                Assert.Fail($"{mutation}: threw {ex.GetType().Name}: {ex.Message}");
                throw;
            }

            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        TestContext.Out.WriteLine($"{iterations} mutations: " + string.Join(", ", outcomes.Select(o => $"{o.Key} x{o.Value}")));
        Assert.That(outcomes.Keys, Is.SubsetOf(new[] { "loaded", "ModelLoadException" }));
        Assert.That(outcomes.GetValueOrDefault("ModelLoadException"), Is.GreaterThan(0));
    }

    private static (byte[] Json, string Mutation) Mutate(Random random)
    {
        JsonNode[] hostile = [-1, 0, 99999999999L, 2147483647, 1e30, 0.5, "x", "", new JsonArray(), new JsonObject(), true];
        string[] types = ["UnicodeScripts", "BPE", "Sequence", "Split", "Metaspace", "ByteLevel", "TemplateProcessing", "", "Strip"];
        switch (random.Next(5))
        {
            case 0:
                {
                    var node = JsonNode.Parse(BaseJson)!;
                    var target = RandomNode(node, random, out var path);
                    if (target?.Parent is JsonObject parent)
                    {
                        var key = parent.First(kv => ReferenceEquals(kv.Value, target)).Key;
                        parent[key] = hostile[random.Next(hostile.Length)].DeepClone();
                    }

                    return (Encoding.UTF8.GetBytes(node.ToJsonString()), $"value at {path} replaced");
                }

            case 1:
                {
                    var node = JsonNode.Parse(BaseJson)!;
                    string[] keys = ["model", "normalizer", "pre_tokenizer", "post_processor", "decoder", "added_tokens"];
                    var key = keys[random.Next(keys.Length)];
                    ((JsonObject)node).Remove(key);
                    return (Encoding.UTF8.GetBytes(node.ToJsonString()), $"{key} removed");
                }

            case 2:
                {
                    var node = JsonNode.Parse(BaseJson)!;
                    string[] keys = ["model", "pre_tokenizer", "post_processor", "decoder"];
                    var key = keys[random.Next(keys.Length)];
                    node[key]!["type"] = types[random.Next(types.Length)];
                    return (Encoding.UTF8.GetBytes(node.ToJsonString()), $"{key}.type renamed");
                }

            case 3:
                {
                    var bytes = Encoding.UTF8.GetBytes(BaseJson);
                    for (var i = 0; i < 1 + random.Next(8); i++)
                    {
                        bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    }

                    return (bytes, "bytes flipped");
                }

            default:
                {
                    var bytes = Encoding.UTF8.GetBytes(BaseJson);
                    return (bytes[..random.Next(bytes.Length)], "truncated");
                }
        }
    }

    /// <summary>A random node outside the big vocabulary and merges (mostly the pipeline's components).</summary>
    private static JsonNode? RandomNode(JsonNode root, Random random, out string path)
    {
        var candidates = new List<JsonNode>();
        void Walk(JsonNode? node, int depth)
        {
            if (node is null || depth > 6)
            {
                return;
            }

            if (node is JsonObject o)
            {
                foreach (var (key, value) in o)
                {
                    if (key is "vocab" or "merges")
                    {
                        continue;
                    }

                    if (value is not null)
                    {
                        candidates.Add(value);
                    }

                    Walk(value, depth + 1);
                }
            }
            else if (node is JsonArray a)
            {
                foreach (var value in a)
                {
                    Walk(value, depth + 1);
                }
            }
        }

        Walk(root, 0);
        var chosen = candidates.Count == 0 ? null : candidates[random.Next(candidates.Count)];
        path = chosen?.GetPath() ?? "$";
        return chosen;
    }
}
