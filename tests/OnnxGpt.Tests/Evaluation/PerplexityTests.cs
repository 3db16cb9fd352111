using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OnnxGpt.Evaluation;

namespace OnnxGpt.Tests.Evaluation;

[TestFixture]
public sealed class PerplexityTests : TinyShakespeareFixture
{
    private const string Text = "ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n"
        + "Arise, fair sun, and kill the envious moon,\nWho is already sick and pale with grief,\n"
        + "That thou her maid art far more fair than she.\n";

    [TestCase(16)]
    [TestCase(64)]
    public async Task Matches_a_direct_computation_over_the_graph(int context)
    {
        var ids = Model.Tokenizer!.Encode(Text, addSpecialTokens: false);

        var result = await Perplexity.ComputeAsync(Model, ids, context);
        var (expectedNll, expectedTokens) = DirectMeanNll(ids, context);

        Assert.Multiple(() =>
        {
            Assert.That(ids, Has.Count.GreaterThan(context), "the text spans several windows");
            Assert.That(result.Tokens, Is.EqualTo(expectedTokens));
            Assert.That(result.Tokens, Is.EqualTo(ids.Count - ((ids.Count + context - 1) / context)), "every token but each window's first");
            Assert.That(result.MeanNegativeLogLikelihood, Is.EqualTo(expectedNll).Within(1e-4));
            Assert.That(result.Value, Is.EqualTo(Math.Exp(expectedNll)).Within(1e-4).Percent);
        });
    }

    [Test]
    public void Bad_windows_and_ids_are_refused_naming_the_setting()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => Perplexity.ComputeAsync(Model, [1, 2, 3], 1), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("contextLength"));
            Assert.That(() => Perplexity.ComputeAsync(Model, [1, 2, 3], Model.Info.ContextLength + 1), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("contextLength"));
            Assert.That(() => Perplexity.ComputeAsync(Model, [1]), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("tokenIds"));
            Assert.That(() => Perplexity.ComputeAsync(Model, [1, Model.Info.VocabularySize]), Throws.TypeOf<ArgumentOutOfRangeException>().With.Property("ParamName").EqualTo("tokenIds"));
        });
    }

    /// <summary>
    /// The oracle: each window in one run of the graph itself (empty pasts, every position's logits), log-softmax in
    /// double, the NLL of each next token.
    /// </summary>
    private static (double MeanNll, int Tokens) DirectMeanNll(IReadOnlyList<int> ids, int context)
    {
        using var session = new InferenceSession(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"));
        double total = 0;
        var tokens = 0;
        for (var start = 0; start < ids.Count; start += context)
        {
            var length = Math.Min(context, ids.Count - start);
            if (length < 2)
            {
                break;
            }

            var inputs = new List<NamedOnnxValue>();
            foreach (var (name, meta) in session.InputMetadata)
            {
                if (name == "input_ids" || name == "position_ids" || name == "attention_mask")
                {
                    var values = new DenseTensor<long>([1, length]);
                    for (var i = 0; i < length; i++)
                    {
                        values[0, i] = name switch { "input_ids" => ids[start + i], "position_ids" => i, _ => 1 };
                    }

                    inputs.Add(NamedOnnxValue.CreateFromTensor(name, values));
                }
                else
                {
                    // past_key_values.*: [batch 1, heads, 0 positions, head size].
                    var dims = meta.Dimensions.Select((d, axis) => axis switch { 0 => 1, 2 => 0, _ => d }).ToArray();
                    inputs.Add(NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(dims)));
                }
            }

            using var outputs = session.Run(inputs, ["logits"]);
            var logits = outputs[0].AsTensor<float>();
            var vocabulary = logits.Dimensions[2];
            for (var i = 0; i < length - 1; i++)
            {
                var max = double.NegativeInfinity;
                for (var v = 0; v < vocabulary; v++)
                {
                    max = Math.Max(max, logits[0, i, v]);
                }

                double sum = 0;
                for (var v = 0; v < vocabulary; v++)
                {
                    sum += Math.Exp(logits[0, i, v] - max);
                }

                total += Math.Log(sum) + max - logits[0, i, ids[start + i + 1]];
                tokens++;
            }
        }

        return (total / tokens, tokens);
    }
}
