using System.Text.Json;

namespace OnnxGpt.Cli.Tests;

/// <summary>--variant on the commands that load a model, on the Qwen3 hub folder (graphs under onnx/).</summary>
public sealed class VariantTests
{
    private static string Qwen3 => Path.Combine(AppContext.BaseDirectory, "hub", "qwen3");

    [Test]
    public async Task Inspect_lists_the_variants_and_the_one_loaded()
    {
        var json = (await CliRunner.RunAsync("inspect", "--model", Qwen3, "--json")).Json();
        var q4 = (await CliRunner.RunAsync("inspect", "--model", Qwen3, "--variant", "q4", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("variant").GetString(), Is.EqualTo("fp32"));
            Assert.That(json.GetProperty("variants").EnumerateArray().Select(v => v.GetString()), Is.EqualTo(new[] { "fp32", "external", "fp16", "q4" }));
            Assert.That(json.GetProperty("graph").GetString(), Is.EqualTo(Path.Combine(Qwen3, "onnx", "model.onnx")));
            Assert.That(q4.GetProperty("variant").GetString(), Is.EqualTo("q4"));
            Assert.That(q4.GetProperty("graph").GetString(), Is.EqualTo(Path.Combine(Qwen3, "onnx", "model_q4.onnx")));
        });
    }

    [Test]
    public async Task Inspect_text_names_the_variant_lines()
    {
        var run = await CliRunner.RunAsync("inspect", "--model", Qwen3, "--variant", "fp16");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout, Does.Contain("variant              fp16" + Environment.NewLine));
            Assert.That(run.Stdout, Does.Contain("variants             fp32, external, fp16, q4" + Environment.NewLine));
            Assert.That(run.Stdout, Does.Contain("element type         float16"));
        });
    }

    [Test]
    public async Task A_variant_that_is_not_there_exits_1_listing_those_that_are()
    {
        var run = await CliRunner.RunAsync("inspect", "--model", Qwen3, "--variant", "int8");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
            Assert.That(run.Stderr, Does.Contain("no variant 'int8'").And.Contain("fp32 (model.onnx), external, fp16, q4"));
        });
    }

    [Test]
    public async Task A_malformed_variant_is_a_usage_error()
    {
        var run = await CliRunner.RunAsync("inspect", "--model", Qwen3, "--variant", "model_q4.onnx");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.Stderr, Does.Contain("--variant 'model_q4.onnx' is a file name"));
        });
    }

    [TestCase("fp32", null)]
    [TestCase("fp16", "fp16")]
    [TestCase("q4", "q4")]
    [TestCase("fp32", "external")]
    public async Task Generate_and_next_token_run_each_variant_to_the_reference_ids(string dtype, string? variant)
    {
        var (prompt, greedy) = Reference(dtype);
        string[] variantArgs = variant is null ? [] : ["--variant", variant];
        var generate = (await CliRunner.RunAsync(["generate", "--model", Qwen3, .. variantArgs, "--prompt-ids", string.Join(',', prompt), "--greedy", "--max-new-tokens", greedy.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json"])).Json();
        var next = (await CliRunner.RunAsync(["next-token", "--model", Qwen3, .. variantArgs, "--prompt-ids", string.Join(',', prompt), "--greedy", "--json"])).Json();

        Assert.Multiple(() =>
        {
            Assert.That(generate.GetProperty("tokenIds").Ints(), Is.EqualTo(greedy));
            Assert.That(next.GetProperty("top")[0].GetProperty("id").GetInt32(), Is.EqualTo(greedy[0]));
        });
    }

    [TestCase("fp32", null)]
    [TestCase("q4", "q4")]
    public async Task Generate_with_a_text_prompt_streams_the_reference_text(string dtype, string? variant)
    {
        // As a user types it: the hub folder, a text prompt, greedy.
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Qwen3, "reference.json")));
        var entry = doc.RootElement.GetProperty("greedy").EnumerateObject().Single(e => e.Value.GetProperty("dtype").GetString() == dtype).Value;
        string[] variantArgs = variant is null ? [] : ["--variant", variant];
        var run = await CliRunner.RunAsync(["generate", "--model", Qwen3, .. variantArgs, entry.GetProperty("prompt").GetString()!, "--greedy", "--max-new-tokens", entry.GetProperty("greedy_ids").GetArrayLength().ToString(System.Globalization.CultureInfo.InvariantCulture)]);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout, Is.EqualTo(entry.GetProperty("text").GetString() + Environment.NewLine));
        });
    }

    [Test]
    public async Task Tokenize_gives_the_reference_ids_and_tokens_on_the_hub_folder()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Qwen3, "reference.json")));
        var hello = doc.RootElement.GetProperty("texts").GetProperty("hello");
        var json = (await CliRunner.RunAsync("tokenize", hello.GetProperty("text").GetString()!, "--model", Qwen3, "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("ids").Ints(), Is.EqualTo(hello.GetProperty("ids").Ints()));
            Assert.That(json.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "Hello", "Ġworld" }), "vocabulary pieces, as convert_ids_to_tokens");
            Assert.That(string.Concat(json.GetProperty("texts").EnumerateArray().Select(t => t.GetString())), Is.EqualTo(hello.GetProperty("decoded").GetString()));
        });
    }

    [Test]
    public async Task Tokenize_json_gives_sentencepiece_pieces_with_the_bos_token()
    {
        // Mistral-style SentencePiece BPE: reference.json's ids for "Hello world" are [1, 22557, 1526].
        var mistral = Path.Combine(AppContext.BaseDirectory, "hub", "mistral");
        var json = (await CliRunner.RunAsync("tokenize", "Hello world", "--model", mistral, "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("ids").Ints(), Is.EqualTo(new[] { 1, 22557, 1526 }));
            Assert.That(json.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "<s>", "▁Hello", "▁world" }));

            // Each id decoded alone: the decoder's Strip removes the leading space of a first token.
            Assert.That(json.GetProperty("texts").EnumerateArray().Select(t => t.GetString()), Is.EqualTo(new[] { "<s>", "Hello", "world" }));
        });
    }

    private static (int[] Prompt, int[] Greedy) Reference(string dtype)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Qwen3, "reference.json")));
        var entry = doc.RootElement.GetProperty("greedy").EnumerateObject().Single(e => e.Value.GetProperty("dtype").GetString() == dtype).Value;
        return (entry.GetProperty("prompt_ids").Ints(), entry.GetProperty("greedy_ids").Ints());
    }
}
