using OnnxGpt.Models;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Models;

/// <summary>The loader recognises each export convention from the graph's own inputs and outputs.</summary>
[TestFixture]
public sealed class GraphLayoutTests
{
    [TestCase("gpt2-tiny", KvCacheConvention.SeparateKeyValue, "single graph", 2, 4, 8)]
    [TestCase("gpt2-tiny-combined", KvCacheConvention.Combined, "single graph", 2, 4, 8)]
    [TestCase("gpt2-tiny-nocache", KvCacheConvention.None, "single graph", 0, 0, 0)]
    [TestCase("gpt2-tiny-merged", KvCacheConvention.SeparateKeyValue, "merged decoder (use_cache_branch)", 2, 4, 8)]
    [TestCase("gpt2-tiny-split", KvCacheConvention.SeparateKeyValue, "split decoder (decoder_model.onnx + decoder_with_past_model.onnx)", 2, 4, 8)]
    [TestCase("tiny-shakespeare-dynamo", KvCacheConvention.SeparateKeyValue, "single graph", 4, 8, 32)]
    [TestCase("tiny-llama-shakespeare", KvCacheConvention.SeparateKeyValue, "single graph", 4, 2, 32)]
    public void Recognises_the_convention(string fixture, KvCacheConvention convention, string format, int layers, int kvHeads, int headSize)
    {
        using var model = GptModel.Load(TestPaths.Fixture(fixture));

        Assert.Multiple(() =>
        {
            Assert.That(model.Info.CacheConvention, Is.EqualTo(convention));
            Assert.That(model.Info.GraphFormat, Is.EqualTo(format));
            Assert.That(model.Info.LayerCount, Is.EqualTo(layers));
            Assert.That(model.Info.KeyValueHeads, Is.EqualTo(kvHeads));
            Assert.That(model.Info.HeadSize, Is.EqualTo(headSize));
        });
    }

    [Test]
    public void Mismatched_past_and_present_counts_are_rejected_at_load()
    {
        using var dir = new TempDirectory();
        OnnxGraphWriter.Write(
            dir.File("model.onnx"),
            [
                new("input_ids", OnnxGraphWriter.Int64, "batch", "sequence"),
                new("scores", OnnxGraphWriter.Float, "batch", "sequence", 16),
                new("past_key_values.0.key", OnnxGraphWriter.Float, "batch", 2, "past", 4),
                new("past_key_values.0.value", OnnxGraphWriter.Float, "batch", 2, "past", 4),
                new("past_key_values.1.key", OnnxGraphWriter.Float, "batch", 2, "past", 4),
                new("past_key_values.1.value", OnnxGraphWriter.Float, "batch", 2, "past", 4),
            ],
            [
                new("logits", OnnxGraphWriter.Float, "batch", "sequence", 16),
                new("present.0.key", OnnxGraphWriter.Float, "batch", 2, "total", 4),
                new("present.0.value", OnnxGraphWriter.Float, "batch", 2, "total", 4),
            ]);

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("4 cache inputs but 2 cache outputs"));
    }

    [Test]
    public void A_layer_without_its_value_tensor_is_rejected()
    {
        using var dir = new TempDirectory();
        OnnxGraphWriter.Write(
            dir.File("model.onnx"),
            [
                new("input_ids", OnnxGraphWriter.Int64, "batch", "sequence"),
                new("scores", OnnxGraphWriter.Float, "batch", "sequence", 16),
                new("past_key_values.0.key", OnnxGraphWriter.Float, "batch", 2, "past", 4),
            ],
            [
                new("logits", OnnxGraphWriter.Float, "batch", "sequence", 16),
                new("present.0.key", OnnxGraphWriter.Float, "batch", 2, "total", 4),
            ]);

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("layer 0").And.Contain("lacks its value tensor"));
    }

    [Test]
    public void An_unknown_required_input_is_named()
    {
        using var dir = new TempDirectory();
        OnnxGraphWriter.Write(
            dir.File("model.onnx"),
            [
                new("input_ids", OnnxGraphWriter.Int64, "batch", "sequence"),
                new("token_type_ids", OnnxGraphWriter.Int64, "batch", "sequence"),
                new("scores", OnnxGraphWriter.Float, "batch", "sequence", 16),
            ],
            [new("logits", OnnxGraphWriter.Float, "batch", "sequence", 16)]);

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("token_type_ids"));
    }
}
