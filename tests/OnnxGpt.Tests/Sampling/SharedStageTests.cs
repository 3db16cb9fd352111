using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Sampling;

/// <summary>Built-in stages placed in shared options keep their scratch per request.</summary>
[TestFixture]
public sealed class SharedStageTests
{
    [Test]
    public void Each_request_gets_its_own_copy_of_a_built_in_stage_from_shared_options()
    {
        ISamplingStage[] shared = [new TopPStage(0.9f), new TopKStage(20), new MinPStage(0.05f), new TypicalPStage(0.9f), new RepetitionPenaltyStage(1.2f), new FrequencyPresencePenaltyStage(0.5f, 0.5f)];
        var options = new GenerationOptions { DoSample = true, CustomStages = shared };

        var first = TokenSampler.BuildStages(options, 2, [0], sample: true);
        var second = TokenSampler.BuildStages(options, 2, [0], sample: true);

        Assert.Multiple(() =>
        {
            foreach (var stage in shared)
            {
                Assert.That(first, Has.None.SameAs(stage), stage.GetType().Name);
                Assert.That(second, Has.None.SameAs(stage), stage.GetType().Name);
            }

            Assert.That(first.Select(s => s.GetType()), Is.EqualTo(second.Select(s => s.GetType())));
        });
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task Concurrent_requests_through_shared_options_give_their_sequential_text(bool batching)
    {
        var options = new GptOptions { ModelPath = TestPaths.TinyShakespeare, EnableBatching = batching };
        options.Generation.CustomStages = [new TopPStage(0.8f), new TopKStage(30), new FrequencyPresencePenaltyStage(0.4f, 0.2f)];
        using var model = GptModel.Load(options);
        var generator = GptGenerator.Create(model);
        string[] prompts = ["ROMEO:", "JULIET:", "First Citizen:", "KING RICHARD III:", "MENENIUS:", "O"];
        var requests = prompts.Select((_, i) => new GenerationOptions { Seed = 10 + i, MaxNewTokens = 80, MinNewTokens = 80 }).ToArray();
        var sequential = new List<string>();
        for (var i = 0; i < prompts.Length; i++)
        {
            sequential.Add((await generator.GenerateAsync(prompts[i], requests[i])).Text);
        }

        var concurrent = await Task.WhenAll(prompts.Select((p, i) => Task.Run(() => generator.GenerateAsync(p, requests[i]))));

        Assert.That(concurrent.Select(r => r.Text), Is.EqualTo(sequential));
    }
}
