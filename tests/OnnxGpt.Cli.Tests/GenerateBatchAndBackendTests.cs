using OnnxGpt.Generation;

namespace OnnxGpt.Cli.Tests;

public sealed class GenerateBatchAndBackendTests
{
    [Test]
    public async Task Several_prompts_run_as_a_batch_and_json_prints_an_array()
    {
        var run = await CliRunner.RunAsync("generate", "--prompt", "ROMEO:", "--prompt", "JULIET:", "--greedy", "--max-new-tokens", "64", "--json");

        var rows = run.Json().EnumerateArray().ToList();
        var alone = (await CliRunner.RunAsync("generate", "JULIET:", "--greedy", "--max-new-tokens", "64", "--json")).Json();
        Assert.Multiple(() =>
        {
            Assert.That(rows, Has.Count.EqualTo(2));
            Assert.That(rows[0].GetProperty("tokenIds").Ints(), Is.EqualTo(CliRunner.RomeoGreedyIds()));
            Assert.That(rows[1].GetProperty("tokenIds").Ints(), Is.EqualTo(alone.GetProperty("tokenIds").Ints()));
            Assert.That(rows[1].GetProperty("promptTokenIds").Ints(), Is.EqualTo(new[] { 1008, 26 }));
        });
    }

    [Test]
    public async Task A_batch_prints_each_row_with_its_prompt()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--prompt", "JULIET:", "--greedy", "--max-new-tokens", "3");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout, Does.StartWith("[0] ROMEO:\nI'll").And.Contain("[1] JULIET:"));
            Assert.That(run.StderrLines, Has.Length.EqualTo(2));
        });
    }

    [Test]
    public async Task The_genai_backend_gives_the_reference_greedy_ids()
    {
        var json = (await CliRunner.RunAsync("generate", "ROMEO:", "--backend", "genai", "--greedy", "--max-new-tokens", "64", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("tokenIds").Ints(), Is.EqualTo(CliRunner.RomeoGreedyIds()));
            Assert.That(json.GetProperty("executionProvider").GetString(), Is.EqualTo("Cpu"));
        });
    }

    [Test]
    public async Task A_setting_genai_lacks_exits_2_naming_it()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--backend", "genai", "--min-p", "0.1");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.Stderr, Does.StartWith("error: --min-p is 0.1, but onnxruntime-genai has no min-p sampling"));
            Assert.That(run.Stderr, Does.Not.Contain("MinP").And.Not.Contain("GptOptions"));
        });
    }

    [TestCase("tpu")]
    public async Task An_unknown_backend_exits_2(string backend)
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--backend", backend);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.Stderr, Does.Contain("Unknown --backend 'tpu'"));
        });
    }
}
