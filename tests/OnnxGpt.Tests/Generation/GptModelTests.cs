using OnnxGpt.Models;
using OnnxGpt.Providers;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

[TestFixture]
public sealed class GptModelTests
{
    [Test]
    public void Loads_the_embedded_model_and_reports_its_layout()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        var info = model.Info;

        Assert.Multiple(() =>
        {
            Assert.That(info.CacheConvention, Is.EqualTo(KvCacheConvention.SeparateKeyValue));
            Assert.That(info.LayerCount, Is.EqualTo(4));
            Assert.That(info.AttentionHeads, Is.EqualTo(8));
            Assert.That(info.KeyValueHeads, Is.EqualTo(8));
            Assert.That(info.HeadSize, Is.EqualTo(32));
            Assert.That(info.CacheElementType, Is.EqualTo("float32"));
            Assert.That(info.ContextLength, Is.EqualTo(256));
            Assert.That(info.VocabularySize, Is.EqualTo(2048));
            Assert.That(info.EosTokenIds, Is.EqualTo(new[] { 0 }));
            Assert.That(info.BosTokenId, Is.EqualTo(0));
            Assert.That(info.HasPositionIds, Is.True);
            Assert.That(info.TokenizerKind, Does.StartWith("tokenizer.json (BPE (2048 tokens, 1791 merges, byte-level"));
            Assert.That(info.Defaults.DoSample, Is.True);
            Assert.That(info.Defaults.Temperature, Is.EqualTo(0.8f));
            Assert.That(info.Defaults.TopK, Is.EqualTo(40));
            Assert.That(model.ExecutionProvider, Is.EqualTo("Cpu"));
        });
    }

    [Test]
    public void Loads_grouped_query_attention_with_fewer_kv_heads()
    {
        using var model = GptModel.Load(TestPaths.Fixture("tiny-llama-shakespeare"));

        Assert.Multiple(() =>
        {
            Assert.That(model.Info.AttentionHeads, Is.EqualTo(8));
            Assert.That(model.Info.KeyValueHeads, Is.EqualTo(2));
            Assert.That(model.Info.BosTokenId, Is.EqualTo(1));
            Assert.That(model.Info.EosTokenIds, Is.EqualTo(new[] { 2 }));
            Assert.That(model.Tokenizer!.AddsBosToken, Is.True);
        });
    }

    [Test]
    public void Loads_an_onnx_file_path_directly()
    {
        using var model = GptModel.Load(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"));

        Assert.That(model.Info.GraphPath, Is.EqualTo(Path.Combine(TestPaths.TinyShakespeare, "model.onnx")));
    }

    [Test]
    public void Missing_folder_gives_a_model_load_exception_naming_it()
    {
        var path = Path.Combine(Path.GetTempPath(), "no-such-model-" + Guid.NewGuid().ToString("N"));

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(path));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.ModelPath, Is.EqualTo(path));
            Assert.That(ex.Message, Does.Contain(path).And.Contain("no such folder"));
        });
    }

    [Test]
    public void Empty_folder_says_there_is_no_graph()
    {
        using var dir = new TempDirectory();

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("no .onnx graph"));
    }

    [Test]
    public void A_file_that_is_not_onnx_gives_a_model_load_exception()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("model.onnx"), "this is not a protobuf graph");

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("'model.onnx' is not an ONNX graph"));
    }

    [Test]
    public void A_graph_without_logits_is_rejected_at_load_naming_the_output()
    {
        using var dir = new TempDirectory();
        OnnxGraphWriter.Write(
            dir.File("model.onnx"),
            [new("input_ids", OnnxGraphWriter.Int64, "batch", "sequence")],
            [new("last_hidden_state", OnnxGraphWriter.Int64, "batch", "sequence")]);

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("no 'logits' output").And.Contain("last_hidden_state"));
    }

    [Test]
    public void A_graph_without_input_ids_is_rejected_at_load()
    {
        using var dir = new TempDirectory();
        OnnxGraphWriter.Write(
            dir.File("model.onnx"),
            [new("inputs_embeds", OnnxGraphWriter.Float, "batch", "sequence", 8)],
            [new("logits", OnnxGraphWriter.Float, "batch", "sequence", 8)]);

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("no 'input_ids' input"));
    }

    [Test]
    public void Malformed_config_json_names_the_file()
    {
        using var dir = new TempDirectory();
        File.Copy(Path.Combine(TestPaths.TinyShakespeare, "model.onnx"), dir.File("model.onnx"));
        File.WriteAllText(dir.File("config.json"), "{ \"n_positions\": ");

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("config.json is not valid JSON"));
    }

    [Test]
    public void Invalid_options_name_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => GptModel.Load(new GptOptions { ModelPath = TestPaths.TinyShakespeare, Generation = new() { Temperature = -1 } }));

        Assert.That(ex!.Message, Does.Contain("Temperature"));
    }

    [Test]
    public void Encode_and_decode_round_trip_through_the_model_tokenizer()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);

        Assert.Multiple(() =>
        {
            Assert.That(model.Encode("ROMEO:"), Is.EqualTo(new[] { 859, 26 }));
            Assert.That(model.Decode([859, 26]), Is.EqualTo("ROMEO:"));
        });
    }

    [Test]
    public void Unavailable_provider_falls_back_to_the_next_one()
    {
        var options = new GptOptions { ModelPath = TestPaths.TinyShakespeare };
        options.ExecutionProviders.Add(new ExecutionProviderOptions(ExecutionProviderOptions.Cuda));
        options.ExecutionProviders.Add(new ExecutionProviderOptions(ExecutionProviderOptions.Cpu));

        using var model = GptModel.Load(options);

        Assert.That(model.ExecutionProvider, Is.EqualTo("Cpu"));
    }

    [Test]
    public void No_working_provider_lists_each_failure()
    {
        var options = new GptOptions { ModelPath = TestPaths.TinyShakespeare };
        options.ExecutionProviders.Add(new ExecutionProviderOptions(ExecutionProviderOptions.Cuda));
        options.ExecutionProviders.Add(new ExecutionProviderOptions(ExecutionProviderOptions.DirectML));

        var ex = Assert.Throws<ExecutionProviderException>(() => GptModel.Load(options));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Failures.Select(f => f.Key), Is.EqualTo(new[] { "Cuda", "DirectML" }));
            Assert.That(ex.Message, Does.Contain("Cuda:").And.Contain("DirectML:"));
        });
    }
}
