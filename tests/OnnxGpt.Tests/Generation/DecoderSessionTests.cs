using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Generation;

/// <summary>The decoder's batched path: left-padded rows give each row its single-run greedy ids.</summary>
[TestFixture]
public sealed class DecoderSessionTests
{
    [TestCase("tiny-shakespeare")]
    [TestCase("tiny-llama-shakespeare")]
    [TestCase("gpt2-tiny")]
    [TestCase("gpt2-tiny-combined")]
    public void Left_padded_batch_rows_equal_their_reference_greedy_ids(string fixture)
    {
        var path = fixture == "tiny-shakespeare" ? TestPaths.TinyShakespeare : TestPaths.Fixture(fixture);
        var cases = ReferenceData.Greedy(fixture, path).ToList();
        using var model = GptModel.Load(path);
        var steps = cases.Max(c => c.GreedyIds.Length);
        var longest = cases.Max(c => c.PromptIds.Length);
        var vocabulary = model.Info.VocabularySize;
        var produced = cases.Select(_ => new List<int>()).ToList();

        using (var decoder = new DecoderSession(model, longest + steps, CancellationToken.None, batchSize: cases.Count))
        {
            decoder.PrefillBatch([.. cases.Select(c => (IReadOnlyList<int>)c.PromptIds)], padTokenId: model.Info.PadTokenId ?? model.Info.EosTokenIds[0]);
            var next = new int[cases.Count];
            for (var step = 0; step < steps; step++)
            {
                for (var r = 0; r < cases.Count; r++)
                {
                    next[r] = TokenSampler.ArgMax(decoder.Logits.AsSpan(r * vocabulary, vocabulary));
                    produced[r].Add(next[r]);
                }

                if (step < steps - 1)
                {
                    decoder.StepBatch(next);
                }
            }
        }

        Assert.Multiple(() =>
        {
            for (var r = 0; r < cases.Count; r++)
            {
                Assert.That(produced[r].Take(cases[r].GreedyIds.Length), Is.EqualTo(cases[r].GreedyIds), cases[r].Name);
            }

            Assert.That(model.CacheStatistics.Rented, Is.Zero);
        });
    }
}
