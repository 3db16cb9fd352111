using OnnxGpt.Models;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Models;

/// <summary>
/// Folder resolution on Hugging Face hub layouts: the graph in <c>onnx/</c>, variants chosen by name, external data
/// under the name the graph gives, and the errors that list what is there.
/// </summary>
[TestFixture]
public sealed class ModelFolderTests
{
    private static string Qwen3 => TestPaths.Hub("qwen3");

    private static string Qwen3Onnx => Path.Combine(Qwen3, "onnx");

    [Test]
    public void A_hub_folder_resolves_to_onnx_model_onnx_with_its_configuration_in_the_root()
    {
        var folder = ModelFolder.Resolve(Qwen3);

        Assert.Multiple(() =>
        {
            Assert.That(folder.Directory, Is.EqualTo(Qwen3));
            Assert.That(folder.GraphDirectory, Is.EqualTo(Qwen3Onnx));
            Assert.That(folder.GraphPath, Is.EqualTo(Path.Combine(Qwen3Onnx, "model.onnx")));
            Assert.That(folder.PrefillGraphPath, Is.Null);
            Assert.That(folder.Variant, Is.EqualTo("fp32"));
            Assert.That(folder.Variants, Is.EqualTo(new[] { "fp32", "external", "fp16", "q4" }));
            Assert.That(folder.ExternalDataFiles, Is.Empty);
        });
    }

    [TestCase("fp32", "model.onnx")]
    [TestCase("fp16", "model_fp16.onnx")]
    [TestCase("q4", "model_q4.onnx")]
    [TestCase("Q4", "model_q4.onnx")]
    [TestCase("external", "model_external.onnx")]
    public void A_variant_picks_model_NAME_onnx(string variant, string graph)
    {
        var folder = ModelFolder.Resolve(Qwen3, variant);

        Assert.That(folder.GraphPath, Is.EqualTo(Path.Combine(Qwen3Onnx, graph)));
    }

    [Test]
    public void The_external_data_the_graph_names_is_found_beside_it()
    {
        var folder = ModelFolder.Resolve(Qwen3, "external");

        Assert.That(folder.ExternalDataFiles, Is.EqualTo(new[] { Path.Combine(Qwen3Onnx, "model_external.onnx_data") }));
    }

    [Test]
    public void A_variant_that_is_not_there_lists_the_ones_that_are()
    {
        var ex = Assert.Throws<ModelLoadException>(() => ModelFolder.Resolve(Qwen3, "int8"));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.ModelPath, Is.EqualTo(Qwen3));
            Assert.That(ex.Message, Does.Contain("no variant 'int8' (model_int8.onnx)"));
            Assert.That(ex.Message, Does.Contain("fp32 (model.onnx), external, fp16, q4"));
        });
    }

    [Test]
    public void Several_graphs_without_model_onnx_ask_for_a_variant_listing_them()
    {
        using var dir = HubCopy(Qwen3, "model_fp16.onnx", "model_q4.onnx");

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));

        Assert.That(ex!.Message, Does.Contain("several graphs and none is model.onnx").And.Contain("GptOptions.Variant: fp16, q4."));
    }

    [Test]
    public void A_single_graph_of_any_name_loads_without_a_variant()
    {
        using var dir = HubCopy(Qwen3, "model_q4.onnx");

        var folder = ModelFolder.Resolve(dir.Path);

        Assert.Multiple(() =>
        {
            Assert.That(Path.GetFileName(folder.GraphPath), Is.EqualTo("model_q4.onnx"));
            Assert.That(folder.Variant, Is.EqualTo("q4"));
        });
    }

    [Test]
    public void A_graph_file_in_onnx_reads_the_configuration_of_the_folder_above()
    {
        using var model = GptModel.Load(Path.Combine(Qwen3Onnx, "model_fp16.onnx"));

        Assert.Multiple(() =>
        {
            // Context and eos come from config.json in the root, not from the graph's folder.
            Assert.That(model.Info.ContextLength, Is.EqualTo(512));
            Assert.That(model.Info.EosTokenIds, Is.EqualTo(new[] { 151645 }));
            Assert.That(model.Info.Variant, Is.EqualTo("fp16"));
        });
    }

    [Test]
    public void A_variant_with_a_graph_file_path_is_an_error()
    {
        var ex = Assert.Throws<ModelLoadException>(() => ModelFolder.Resolve(Path.Combine(Qwen3Onnx, "model.onnx"), "q4"));

        Assert.That(ex!.Message, Does.Contain("Variant 'q4' chooses a graph in a folder"));
    }

    [Test]
    public void Missing_external_data_is_named()
    {
        using var dir = HubCopy(Qwen3, "model_external.onnx");

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(new GptOptions { ModelPath = dir.Path, Variant = "external" }));

        Assert.That(ex!.Message, Does.Contain("'model_external.onnx' keeps its weights in the external data file 'model_external.onnx_data', which is missing"));
    }

    [Test]
    public void The_split_layout_and_its_variants_load_from_onnx()
    {
        var split = TestPaths.Fixture("gpt2-tiny-split");
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("onnx"));
        foreach (var file in Directory.GetFiles(split))
        {
            var name = Path.GetFileName(file);
            File.Copy(file, name.EndsWith(".onnx", StringComparison.Ordinal) ? Path.Combine(dir.File("onnx"), name.Replace("model", "model_quantized", StringComparison.Ordinal)) : dir.File(name));
        }

        var ex = Assert.Throws<ModelLoadException>(() => GptModel.Load(dir.Path));
        using var model = GptModel.Load(new GptOptions { ModelPath = dir.Path, Variant = "quantized" });

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain("several graphs").And.Contain(": quantized."));
            Assert.That(model.Info.GraphPath, Is.EqualTo(Path.Combine(dir.File("onnx"), "decoder_with_past_model_quantized.onnx")));
            Assert.That(model.Info.PrefillGraphPath, Is.EqualTo(Path.Combine(dir.File("onnx"), "decoder_model_quantized.onnx")));
            Assert.That(model.Tokenizer, Is.Not.Null, "vocab.json + merges.txt in the root");
        });
    }

    [Test]
    public void The_merged_decoder_loads_from_onnx()
    {
        var merged = TestPaths.Fixture("gpt2-tiny-merged");
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("onnx"));
        foreach (var file in Directory.GetFiles(merged))
        {
            var name = Path.GetFileName(file);
            File.Copy(file, name.EndsWith(".onnx", StringComparison.Ordinal) ? Path.Combine(dir.File("onnx"), name) : dir.File(name));
        }

        using var model = GptModel.Load(dir.Path);

        Assert.Multiple(() =>
        {
            Assert.That(model.Info.GraphPath, Is.EqualTo(Path.Combine(dir.File("onnx"), "decoder_model_merged.onnx")));
            Assert.That(model.Info.GraphFormat, Is.EqualTo("merged decoder (use_cache_branch)"));
            Assert.That(model.Info.Variants, Is.EqualTo(new[] { "fp32" }));
        });
    }

    [TestCase("", "Variant is empty")]
    [TestCase("model_q4.onnx", "is a file name")]
    [TestCase("../q4", "not a path")]
    [TestCase("onnx/q4", "not a path")]
    public void A_malformed_variant_is_a_validation_error_naming_it(string variant, string expected)
    {
        var result = new GptOptionsValidator().Validate(null, new GptOptions { ModelPath = Qwen3, Variant = variant });

        Assert.That(result.FailureMessage, Does.Contain("Gpt: Variant").And.Contain(expected));
    }

    [Test]
    public void Graphs_in_the_root_and_in_onnx_are_all_variants()
    {
        using var dir = HubCopy(Qwen3, "model_q4.onnx");
        File.CreateSymbolicLink(dir.File("model.onnx"), Path.Combine(Qwen3Onnx, "model.onnx"));

        var root = ModelFolder.Resolve(dir.Path);
        var q4 = ModelFolder.Resolve(dir.Path, "q4");

        Assert.Multiple(() =>
        {
            Assert.That(root.GraphPath, Is.EqualTo(dir.File("model.onnx")));
            Assert.That(root.GraphDirectory, Is.EqualTo(dir.Path));
            Assert.That(root.Variants, Is.EqualTo(new[] { "fp32", "q4" }));
            Assert.That(q4.GraphPath, Is.EqualTo(Path.Combine(dir.File("onnx"), "model_q4.onnx")));
            Assert.That(q4.GraphDirectory, Is.EqualTo(dir.File("onnx")));
            Assert.That(q4.Directory, Is.EqualTo(dir.Path));
        });
    }

    [Test]
    public void A_variant_in_both_the_root_and_onnx_is_an_error_naming_both()
    {
        using var dir = HubCopy(Qwen3, "model.onnx", "model_fp16.onnx");
        File.CreateSymbolicLink(dir.File("model_fp16.onnx"), Path.Combine(Qwen3Onnx, "model_fp16.onnx"));

        var ex = Assert.Throws<ModelLoadException>(() => ModelFolder.Resolve(dir.Path, "fp16"));
        var folder = ModelFolder.Resolve(dir.Path);

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain($"the variant 'fp16' is there twice: '{dir.File("model_fp16.onnx")}' and '{Path.Combine(dir.File("onnx"), "model_fp16.onnx")}'"));
            Assert.That(folder.GraphPath, Is.EqualTo(Path.Combine(dir.File("onnx"), "model.onnx")), "the default variant is only in onnx/");
            Assert.That(folder.Variants, Is.EqualTo(new[] { "fp32", "fp16" }));
        });
    }

    /// <summary>A copy of a hub folder's configuration files with only the given graphs in its onnx/ subfolder.</summary>
    private static TempDirectory HubCopy(string hub, params string[] graphs)
    {
        var dir = new TempDirectory();
        foreach (var file in Directory.GetFiles(hub).Where(f => !f.EndsWith("tokenizer.json", StringComparison.Ordinal)))
        {
            File.Copy(file, dir.File(Path.GetFileName(file)));
        }

        Directory.CreateDirectory(dir.File("onnx"));
        foreach (var graph in graphs)
        {
            File.CreateSymbolicLink(Path.Combine(dir.File("onnx"), graph), Path.Combine(hub, "onnx", graph));
        }

        return dir;
    }
}
