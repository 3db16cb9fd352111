namespace OnnxGpt.Cli.Tests;

public sealed class InspectCommandTests
{
    [Test]
    public async Task Json_reports_what_the_loader_found_in_the_embedded_model()
    {
        var json = (await CliRunner.RunAsync("inspect", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("convention").GetString(), Is.EqualTo("SeparateKeyValue"));
            Assert.That(json.GetProperty("graphFormat").GetString(), Is.EqualTo("single graph"));
            Assert.That(json.GetProperty("layers").GetInt32(), Is.EqualTo(4));
            Assert.That(json.GetProperty("attentionHeads").GetInt32(), Is.EqualTo(8));
            Assert.That(json.GetProperty("keyValueHeads").GetInt32(), Is.EqualTo(8));
            Assert.That(json.GetProperty("headSize").GetInt32(), Is.EqualTo(32));
            Assert.That(json.GetProperty("elementType").GetString(), Is.EqualTo("float32"));
            Assert.That(json.GetProperty("contextLength").GetInt32(), Is.EqualTo(256));
            Assert.That(json.GetProperty("vocabulary").GetInt32(), Is.EqualTo(2048));
            Assert.That(json.GetProperty("tokenizer").GetString(), Is.EqualTo("tokenizer.json (BPE (2048 tokens, 1791 merges, byte-level))"));
            var pipeline = json.GetProperty("tokenizerPipeline");
            Assert.That(pipeline.GetProperty("model").GetString(), Is.EqualTo("BPE (2048 tokens, 1791 merges, byte-level)"));
            Assert.That(pipeline.GetProperty("normalizer").GetString(), Is.EqualTo("none"));
            Assert.That(pipeline.GetProperty("preTokenizer").GetString(), Is.EqualTo("ByteLevel(add_prefix_space: False, use_regex: True)"));
            Assert.That(pipeline.GetProperty("postProcessor").GetString(), Is.EqualTo("ByteLevel (adds no tokens)"));
            Assert.That(pipeline.GetProperty("decoder").GetString(), Is.EqualTo("ByteLevel"));
            Assert.That(pipeline.GetProperty("addedTokenCount").GetInt32(), Is.EqualTo(1));
            Assert.That(json.GetProperty("executionProvider").GetString(), Is.EqualTo("Cpu"));
            Assert.That(json.GetProperty("cacheLocation").GetString(), Is.EqualTo("host"));
            Assert.That(json.GetProperty("defaults").GetProperty("topK").GetInt32(), Is.EqualTo(40));
            Assert.That(json.GetProperty("defaults").GetProperty("temperature").GetSingle(), Is.EqualTo(0.8f));
        });
    }

    [Test]
    public async Task Text_lists_one_fact_per_line()
    {
        var run = await CliRunner.RunAsync("inspect");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout, Does.Contain("kv heads             8"));
            Assert.That(run.Stdout, Does.Contain("context length       256"));
            Assert.That(run.Stdout, Does.Contain("  pre-tokenizer      ByteLevel(add_prefix_space: False, use_regex: True)"));
            Assert.That(run.Stdout, Does.Contain("  added tokens       1"));
            Assert.That(run.Stdout, Does.Contain("defaults             do_sample=True temperature=0.8 top_k=40"));
        });
    }

    [Test]
    public async Task A_missing_model_exits_1()
    {
        var run = await CliRunner.RunAsync("inspect", "--model", "/no/such/model");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.Stderr, Does.Contain("/no/such/model"));
        });
    }
}
