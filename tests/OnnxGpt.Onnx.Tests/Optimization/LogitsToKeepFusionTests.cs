using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Generation;
using OnnxGpt.Onnx.Optimization;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Tests.Optimization;

/// <summary>
/// The LogitsToKeep pass: the lm_head scores only the last <c>num_logits_to_keep</c> positions (every one when the
/// input is not fed, as before), and OnnxGpt feeds it: 1 for prompts and steps, 0 where speculation verifies every
/// drafted position.
/// </summary>
[TestFixture]
public sealed class LogitsToKeepFusionTests
{
    private static readonly string TinyShakespeare = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");
    private static readonly long[] Ids = [39, 51, 49, 51, 33, 14, 198, 40, 481];
    private string _output = null!;
    private OptimizationResult _result = null!;

    [OneTimeSetUp]
    public void Optimize()
    {
        _output = Directory.CreateTempSubdirectory("onnxgpt-keep-").FullName;
        var options = new OptimizeOptions { ModelPath = TinyShakespeare, OutputDirectory = _output };
        options.Fusions.Add("LogitsToKeep");
        _result = GraphOptimizer.Optimize(options);
    }

    [OneTimeTearDown]
    public void Delete() => Directory.Delete(_output, recursive: true);

    [Test]
    public void The_lm_head_scores_the_last_positions_asked_for_and_every_position_when_the_input_is_not_fed()
    {
        using var original = new InferenceSession(Path.Combine(TinyShakespeare, "model.onnx"));
        using var kept = new InferenceSession(_result.GraphPath);
        var all = Run(original, keep: null);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(_result.Fusions, Is.EqualTo(new[] { new FusionCount("LogitsToKeep", 1) }));
            Assert.That(_result.OperatorsAfter["Slice"], Is.EqualTo(1));
            Assert.That(kept.OverridableInitializerMetadata.Keys, Does.Contain("num_logits_to_keep"), "an input with a default, so that runtimes that do not know it still run the graph");
            Assert.That(kept.InputMetadata.Keys, Does.Not.Contain("num_logits_to_keep"));
            Assert.That(all.Shape, Is.EqualTo(new long[] { 1, 9, 2048 }));
            foreach (var (keep, expectedPositions) in new (long?, int)[] { (null, 9), (0, 9), (1, 1), (3, 3), (20, 9) })
            {
                var logits = Run(kept, keep);
                Assert.That(logits.Shape, Is.EqualTo(new long[] { 1, expectedPositions, 2048 }), $"num_logits_to_keep = {keep}");
                Assert.That(logits.Values, Is.EqualTo(all.Values[((9 - expectedPositions) * 2048)..]).Within(1e-5f), $"num_logits_to_keep = {keep}");
            }
        }
    }

    [Test]
    public async Task OnnxGpt_feeds_one_for_prompts_and_steps_and_zero_where_speculation_verifies_every_position()
    {
        // A default of 2 fits neither: greedy, batched and prompt-lookup ids match only when OnnxGpt feeds the input itself.
        var trap = Directory.CreateTempSubdirectory("onnxgpt-keep-trap-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(_output))
            {
                File.Copy(file, Path.Combine(trap, Path.GetFileName(file)));
            }

            var model = ModelQuantizer.ReadModel(Path.Combine(trap, "model.onnx"));
            var initializer = model.Graph.Initializer.Single(t => t.Name == "num_logits_to_keep");
            initializer.Int64Data[0] = 2;
            File.WriteAllBytes(Path.Combine(trap, "model.onnx"), model.ToByteArray());

            using var plain = GptModel.Load(new GptOptions { ModelPath = TinyShakespeare, OptimizeGraph = false });
            using var keeping = GptModel.Load(trap);
            var expected = GptGenerator.Create(plain);
            var actual = GptGenerator.Create(keeping);
            var greedy = new GenerationOptions { DoSample = false, MaxNewTokens = 48 };
            var passage = (await expected.GenerateAsync("ROMEO:", greedy)).Text;
            var copy = "ROMEO:" + passage + "\n\nROMEO:" + passage[..12];
            var lookup = new GenerationOptions { DoSample = false, MaxNewTokens = 40, PromptLookupTokens = 8 };
            GptPrompt[] prompts = ["ROMEO:", "KING RICHARD III:\nNow is the winter of our discontent"];

            var single = await actual.GenerateAsync("ROMEO:", greedy);
            var speculated = await actual.GenerateAsync(copy, lookup);
            var reference = await expected.GenerateAsync(copy, new GenerationOptions { DoSample = false, MaxNewTokens = 40 });
            var batch = await actual.GenerateBatchAsync(prompts, [greedy]);
            var batchReference = await expected.GenerateBatchAsync(prompts, [greedy]);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(single.Text, Is.EqualTo(passage));
                Assert.That(speculated.TokenIds, Is.EqualTo(reference.TokenIds));
                Assert.That(speculated.AcceptedDraftTokenCount, Is.GreaterThan(10), "drafts were verified in runs of several positions");
                Assert.That(batch.Select(r => r.TokenIds), Is.EqualTo(batchReference.Select(r => r.TokenIds)));
            }
        }
        finally
        {
            Directory.Delete(trap, recursive: true);
        }
    }

    [TestCase("gpt2-tiny", true)]
    [TestCase("gpt2-tiny-combined", true)]
    [TestCase("gpt2-tiny-nocache", false)]
    [TestCase("tiny-shakespeare-dynamo", true)]
    [TestCase("tiny-llama-shakespeare", true)]
    public async Task Every_graph_convention_keeps_its_greedy_and_prompt_lookup_ids(string fixture, bool cached)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "fixtures", "conventions", fixture);
        var folder = Directory.CreateTempSubdirectory("onnxgpt-keep-" + fixture + "-").FullName;
        try
        {
            var options = new OptimizeOptions { ModelPath = source, OutputDirectory = folder };
            options.Fusions.Add("LogitsToKeep");
            var result = GraphOptimizer.Optimize(options);
            using var original = GptModel.Load(new GptOptions { ModelPath = source, OptimizeGraph = false });
            using var kept = GptModel.Load(folder);
            var greedy = new GenerationOptions { DoSample = false, MaxNewTokens = 24 };
            var lookup = new GenerationOptions { DoSample = false, MaxNewTokens = 24, PromptLookupTokens = 4 };
            GptPrompt[] prompts = [GptPrompt.FromTokenIds([5, 9, 14, 3, 5, 9, 14, 3]), GptPrompt.FromTokenIds([7, 2])];

            var expected = new List<GenerationResult>();
            var single = new List<GenerationResult>();
            foreach (var prompt in prompts)
            {
                expected.Add(await GptGenerator.Create(original).GenerateAsync(prompt, greedy));
                single.Add(await GptGenerator.Create(kept).GenerateAsync(prompt, greedy));
            }

            // A graph without a cache runs one request at a time and feeds its whole sequence each step (1 keeps the last).
            var batch = cached ? await GptGenerator.Create(kept).GenerateBatchAsync(prompts, [greedy]) : single;
            var speculated = await GptGenerator.Create(kept).GenerateAsync(prompts[0], lookup);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.Fusions.Single().Count, Is.EqualTo(1));
                Assert.That(single.Select(r => r.TokenIds), Is.EqualTo(expected.Select(r => r.TokenIds)));
                Assert.That(batch.Select(r => r.TokenIds), Is.EqualTo(expected.Select(r => r.TokenIds)));
                Assert.That(speculated.TokenIds, Is.EqualTo(expected[0].TokenIds));
            }
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Test]
    public void A_graph_that_already_takes_the_input_or_imports_an_opset_before_10_is_left_as_it_is()
    {
        var again = Directory.CreateTempSubdirectory("onnxgpt-keep-again-").FullName;
        var old = Directory.CreateTempSubdirectory("onnxgpt-keep-opset9-").FullName;
        try
        {
            var options = new OptimizeOptions { ModelPath = _output, OutputDirectory = again };
            options.Fusions.Add("LogitsToKeep");
            var result = GraphOptimizer.Optimize(options);

            // Slice took its starts as attributes before opset 10.
            var model = ModelQuantizer.ReadModel(Path.Combine(TinyShakespeare, "model.onnx"));
            model.OpsetImport.Single(o => o.Domain.Length == 0 || o.Domain == "ai.onnx").Version = 9;
            File.WriteAllBytes(Path.Combine(old, "model.onnx"), model.ToByteArray());
            var opset9 = new OptimizeOptions { ModelPath = Path.Combine(old, "model.onnx"), OutputDirectory = Path.Combine(old, "out") };
            opset9.Fusions.Add("LogitsToKeep");
            var oldResult = GraphOptimizer.Optimize(opset9);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(result.Fusions, Is.EqualTo(new[] { new FusionCount("LogitsToKeep", 0) }));
                Assert.That(oldResult.Fusions, Is.EqualTo(new[] { new FusionCount("LogitsToKeep", 0) }));
            }
        }
        finally
        {
            Directory.Delete(again, recursive: true);
            Directory.Delete(old, recursive: true);
        }
    }

    /// <summary>The prompt's logits from an empty cache, with <c>num_logits_to_keep</c> fed when given.</summary>
    private static (long[] Shape, float[] Values) Run(InferenceSession session, long? keep)
    {
        var inputs = TinyShakespeareFeeds.Create(Ids, batch: 1, TinyShakespeareFeeds.EmptyCache());
        if (keep is { } value)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor("num_logits_to_keep", new DenseTensor<long>(new[] { value }, [])));
        }

        using var results = session.Run(inputs);
        var logits = results.Single(r => r.Name == "logits").AsTensor<float>();
        return ([.. logits.Dimensions.ToArray().Select(d => (long)d)], logits.ToArray());
    }
}
