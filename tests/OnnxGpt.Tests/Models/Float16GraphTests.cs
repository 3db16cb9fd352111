using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Models;

/// <summary>
/// A graph whose caches and logits are float16 (tiny-shakespeare rewritten at its boundary by
/// <see cref="OnnxGraphRewriter"/>): the cache is kept in float16 and every path of the loop works on it.
/// </summary>
[TestFixture]
public sealed class Float16GraphTests
{
    private TempDirectory _folder = null!;
    private GptModel _half = null!;
    private GptModel _single = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _folder = new TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.TinyShakespeare))
        {
            if (Path.GetFileName(file) != "model.onnx")
            {
                File.Copy(file, _folder.File(Path.GetFileName(file)));
            }
        }

        OnnxGraphRewriter.ToFloat16Boundary(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"), _folder.File("model.onnx"));
        _half = GptModel.Load(_folder.Path);
        _single = GptModel.Load(TestPaths.TinyShakespeare);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _half.Dispose();
        _single.Dispose();
        _folder.Dispose();
    }

    [Test]
    public void The_cache_element_type_is_read_from_the_graph()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_half.Info.CacheElementType, Is.EqualTo("float16"));
            Assert.That(_single.Info.CacheElementType, Is.EqualTo("float32"));
            Assert.That(_half.Info.CacheConvention, Is.EqualTo(_single.Info.CacheConvention));
            Assert.That(_half.Info.LayerCount, Is.EqualTo(_single.Info.LayerCount));
        });
    }

    [Test]
    public async Task Next_token_probabilities_match_the_float32_graph_to_float16_precision()
    {
        const string prompt = "ROMEO:\nWhat light through yonder window breaks?";
        var half = await GptGenerator.Create(_half).GetNextTokenDistributionAsync(prompt, new GenerationOptions { DoSample = false });
        var single = await GptGenerator.Create(_single).GetNextTokenDistributionAsync(prompt, new GenerationOptions { DoSample = false });

        var differences = Enumerable.Range(0, single.VocabularySize).Select(t => Math.Abs(half.GetProbability(t) - single.GetProbability(t)));
        Assert.Multiple(() =>
        {
            Assert.That(half.GetTop(1)[0].Id, Is.EqualTo(single.GetTop(1)[0].Id));
            Assert.That(differences.Max(), Is.LessThan(2e-3f));
        });
    }

    [Test]
    public async Task Greedy_generation_reproduces_the_reference_ids()
    {
        var generator = GptGenerator.Create(_half);
        foreach (var c in ReferenceData.Greedy("tiny-shakespeare", TestPaths.TinyShakespeare))
        {
            var result = await generator.GenerateAsync(c.PromptIds, new GenerationOptions { DoSample = false, MaxNewTokens = c.GreedyIds.Length });
            Assert.That(result.TokenIds, Is.EqualTo(c.GreedyIds), c.Name);
        }
    }

    [Test]
    public async Task A_batch_gives_each_row_its_single_run_and_returns_its_cache()
    {
        string[] prompts = ["ROMEO:", "KING RICHARD III:\nNow is the winter", "JULIET:"];
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 16 };
        var generator = GptGenerator.Create(_half);

        var batch = await generator.GenerateBatchAsync([.. prompts.Select(GptPrompt.FromText)], [options, options, options]);
        var singles = new List<GenerationResult>();
        foreach (var prompt in prompts)
        {
            singles.Add(await generator.GenerateAsync(prompt, options));
        }

        Assert.Multiple(() =>
        {
            for (var r = 0; r < prompts.Length; r++)
            {
                Assert.That(batch[r].TokenIds, Is.EqualTo(singles[r].TokenIds), prompts[r]);
            }

            Assert.That(_half.CacheStatistics.Rented, Is.Zero);
        });
    }

    [Test]
    public async Task A_conversation_turn_cuts_the_float16_cache_back_to_the_shared_prefix()
    {
        var generator = GptGenerator.Create(_half);
        var turn = new GenerationOptions { DoSample = false, MaxNewTokens = 12, ConversationId = "half" };
        const string history = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n";

        var first = await generator.GenerateAsync(history, turn);
        var secondPrompt = history + first.Text[..(first.Text.Length / 2)] + "\n\nFirst Citizen:\n";
        var second = await generator.GenerateAsync(secondPrompt, turn);
        var fresh = await generator.GenerateAsync(secondPrompt, new GenerationOptions { DoSample = false, MaxNewTokens = 12 });

        Assert.Multiple(() =>
        {
            Assert.That(second.ReusedPromptTokenCount, Is.GreaterThanOrEqualTo(first.PromptTokenCount));
            Assert.That(second.ReusedPromptTokenCount, Is.LessThan(first.PromptTokenCount + first.TokenIds.Count - 1), "the cache was cut back");
            Assert.That(second.TokenIds, Is.EqualTo(fresh.TokenIds));
        });
    }
}
