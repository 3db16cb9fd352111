namespace OnnxGpt.Cli.Tests;

public sealed class GenerateCommandTests
{
    [Test]
    public void The_embedded_model_is_beside_the_cli()
    {
        Assert.That(File.Exists(Path.Combine(CommonOptions.DefaultModelPath, "model.onnx")), Is.True, CommonOptions.DefaultModelPath);
    }

    [Test]
    public async Task Greedy_json_matches_the_transformers_reference()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "64", "--json");
        var json = run.Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("tokenIds").Ints(), Is.EqualTo(CliRunner.RomeoGreedyIds()));
            Assert.That(json.GetProperty("promptTokenIds").Ints(), Is.EqualTo(new[] { 859, 26 }));
            Assert.That(json.GetProperty("finishReason").GetString(), Is.EqualTo("Length"));
            Assert.That(json.GetProperty("executionProvider").GetString(), Is.EqualTo("Cpu"));
            Assert.That(json.GetProperty("promptTokenCount").GetInt32(), Is.EqualTo(2));
            Assert.That(json.GetProperty("generatedTokenCount").GetInt32(), Is.EqualTo(64));
            Assert.That(json.GetProperty("text").GetString(), Does.StartWith("\nI'll not bitter a"));
            Assert.That(json.GetProperty("timings").GetProperty("timeToFirstTokenMs").GetDouble(), Is.GreaterThan(0));
            Assert.That(json.GetProperty("timings").GetProperty("tokensPerSecond").GetDouble(), Is.GreaterThan(0));
            Assert.That(run.Stdout.Trim().Split('\n'), Has.Length.EqualTo(1), "exactly one JSON object on one line");
            Assert.That(run.Stderr, Is.Empty);
        });
    }

    [Test]
    public async Task Prompt_ids_give_the_same_tokens_as_the_text()
    {
        var json = (await CliRunner.RunAsync("generate", "--prompt-ids", "859,26", "--greedy", "--max-new-tokens", "5", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("tokenIds").Ints(), Is.EqualTo(CliRunner.RomeoGreedyIds().Take(5)));
            Assert.That(json.GetProperty("promptTokenIds").Ints(), Is.EqualTo(new[] { 859, 26 }));
        });
    }

    [Test]
    public async Task Streaming_prints_the_text_then_a_summary_on_stderr()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "8");
        var json = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "8", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout, Is.EqualTo(json.GetProperty("text").GetString() + Environment.NewLine));
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.Stderr, Does.Match(@"^\[8 tokens, finish: Length, \d+\.\d ms to first token, \d+\.\d tokens/s, Cpu\]\s*$"));
        });
    }

    [Test]
    public async Task The_same_seed_gives_the_same_text_and_another_seed_differs()
    {
        var first = (await CliRunner.RunAsync("generate", "ROMEO:", "--seed", "42", "--max-new-tokens", "32", "--json")).Json();
        var again = (await CliRunner.RunAsync("generate", "ROMEO:", "--seed", "42", "--max-new-tokens", "32", "--json")).Json();
        var other = (await CliRunner.RunAsync("generate", "ROMEO:", "--seed", "7", "--max-new-tokens", "32", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(again.GetProperty("text").GetString(), Is.EqualTo(first.GetProperty("text").GetString()));
            Assert.That(again.GetProperty("tokenIds").Ints(), Is.EqualTo(first.GetProperty("tokenIds").Ints()));
            Assert.That(other.GetProperty("tokenIds").Ints(), Is.Not.EqualTo(first.GetProperty("tokenIds").Ints()));
            Assert.That(first.GetProperty("generatedTokenCount").GetInt32(), Is.EqualTo(32));
        });
    }

    [Test]
    public async Task A_stop_sequence_ends_the_generation()
    {
        // The greedy text is "\nI'll not bitter a ..."; stopping at "not" leaves "\nI'll ".
        var json = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "64", "--stop", "not", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("finishReason").GetString(), Is.EqualTo("Stop"));
            Assert.That(json.GetProperty("text").GetString(), Is.EqualTo("\nI'll "));
        });
    }

    [Test]
    public async Task Cuda_then_Cpu_falls_back_to_the_cpu()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--execution-provider", "Cuda", "--execution-provider", "Cpu", "--greedy", "--max-new-tokens", "5", "--json");
        var json = run.Json();

        // Without --verbose too, the skipped provider is a warning on stderr that names the reason (this build has
        // the CPU-only natives).
        var warnings = run.StderrLines.Where(l => l.StartsWith("warn:", StringComparison.Ordinal)).ToList();
        Assert.Multiple(() =>
        {
            Assert.That(json.GetProperty("executionProvider").GetString(), Is.EqualTo("Cpu"));
            Assert.That(json.GetProperty("tokenIds").Ints(), Is.EqualTo(CliRunner.RomeoGreedyIds().Take(5)));
            Assert.That(warnings, Has.Count.EqualTo(1), run.ToString());
            Assert.That(warnings[0], Does.Contain("cuda cannot run").IgnoreCase.And.Contain("built without the Cuda provider"));
        });
    }

    [Test]
    public async Task A_cancelled_generation_exits_130_without_a_stack_trace()
    {
        using var cancellation = new CancellationTokenSource();
        await cancellation.CancelAsync();

        var run = await CliRunner.RunAsync(cancellation.Token, "generate", "ROMEO:", "--max-new-tokens", "64");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(130), run.ToString());
            Assert.That(run.StderrLines, Is.EqualTo(new[] { "Cancelled." }));
        });
    }
}
