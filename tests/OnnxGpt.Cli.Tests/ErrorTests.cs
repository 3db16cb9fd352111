namespace OnnxGpt.Cli.Tests;

public sealed class ErrorTests
{
    private static void AssertOneLineWithoutStackTrace(CliRunner.Run run)
    {
        Assert.That(run.StderrLines, Has.Length.EqualTo(1), run.ToString());
        Assert.That(run.Stderr, Does.Not.Contain("   at "), run.ToString());
        Assert.That(run.Stderr, Does.Not.Contain("Exception"), run.ToString());
    }

    [Test]
    public async Task A_missing_model_folder_exits_1_naming_it()
    {
        var folder = Path.Combine(Path.GetTempPath(), "onnxgpt-no-such-model-" + Guid.NewGuid().ToString("N"));

        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--model", folder);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            AssertOneLineWithoutStackTrace(run);
            Assert.That(run.Stderr, Does.Contain(folder));
            Assert.That(run.Stdout, Is.Empty);
        });
    }

    [Test]
    public async Task Verbose_shows_the_whole_exception()
    {
        var folder = Path.Combine(Path.GetTempPath(), "onnxgpt-no-such-model-" + Guid.NewGuid().ToString("N"));

        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--model", folder, "--verbose");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.Stderr, Does.Contain("ModelLoadException"));
            Assert.That(run.Stderr, Does.Contain("   at "));
        });
    }

    [Test]
    public async Task Top_p_out_of_range_exits_2_naming_the_flag()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--top-p", "1.5");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            AssertOneLineWithoutStackTrace(run);
            Assert.That(run.Stderr, Is.EqualTo("error: --top-p must be in (0, 1], but was 1.5." + Environment.NewLine));
        });
    }

    [Test]
    public async Task Prompt_ids_that_are_not_numbers_exit_2()
    {
        var run = await CliRunner.RunAsync("generate", "--prompt-ids", "1,x");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            AssertOneLineWithoutStackTrace(run);
            Assert.That(run.Stderr, Does.Contain("'x'"));
        });
    }

    [Test]
    public async Task A_prompt_id_outside_the_vocabulary_exits_2()
    {
        var run = await CliRunner.RunAsync("generate", "--prompt-ids", "859,5000");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            AssertOneLineWithoutStackTrace(run);
            Assert.That(run.Stderr, Does.Contain("5000"));
            Assert.That(run.Stdout, Is.Empty);
        });
    }

    [TestCase]
    [TestCase("ROMEO:", "--prompt-ids", "859,26")]
    public async Task Not_exactly_one_prompt_exits_2(params string[] prompt)
    {
        var run = await CliRunner.RunAsync(["generate", .. prompt]);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            AssertOneLineWithoutStackTrace(run);
            Assert.That(run.Stderr, Does.Contain("--prompt-ids"));
        });
    }

    [Test]
    public async Task An_unparsable_option_value_exits_2()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--max-new-tokens", "many");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StderrLines[0], Is.EqualTo("error: --max-new-tokens takes a whole number (for example --max-new-tokens 64), not 'many'."));
            Assert.That(run.Stderr, Does.Not.Contain("System."));
        });
    }

    [TestCase("bench concurrency --streams 1,x", "error: --streams takes whole numbers, repeated or comma-separated (for example --streams 1,8), not '1,x'.", "Run 'onnxgpt bench concurrency --help' for usage.")]
    [TestCase("bench concurrency --new-tokens 2.5", "error: --new-tokens takes a whole number (for example --new-tokens 64), not '2.5'.", "Run 'onnxgpt bench concurrency --help' for usage.")]
    [TestCase("quantize -m x -o y --bits four", "error: --bits takes a whole number (for example --bits 64), not 'four'.", "Run 'onnxgpt quantize --help' for usage.")]
    [TestCase("perplexity --file corpus.txt --context 1e3", "error: --context takes a whole number (for example --context 64), not '1e3'.", "Run 'onnxgpt perplexity --help' for usage.")]
    public async Task Every_numeric_flag_names_itself_and_the_whole_command_when_unparsable(string arguments, string error, string usage)
    {
        var run = await CliRunner.RunAsync(arguments.Split(' '));

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StderrLines[0], Is.EqualTo(error));
            Assert.That(run.StderrLines[^1], Is.EqualTo(usage));
            Assert.That(run.Stderr, Does.Not.Contain("System."));
        });
    }

    [TestCase("bench --session-config spinning", "error: --session-config 'spinning' is not KEY=VALUE.")]
    [TestCase("bench --tight-config threads=2,spinning", "error: --tight-config 'spinning' is not KEY=VALUE.")]
    public async Task A_session_setting_that_is_not_key_equals_value_names_its_flag(string arguments, string error)
    {
        var run = await CliRunner.RunAsync(arguments.Split(' '));

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StderrLines[0], Is.EqualTo(error));
            Assert.That(run.Stderr, Does.Not.Contain("System."));
        });
    }

    [Test]
    public async Task An_unknown_execution_provider_exits_2()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--execution-provider", "Tpu");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            AssertOneLineWithoutStackTrace(run);
            Assert.That(run.Stderr, Does.Contain("Tpu"));
        });
    }

    [Test]
    public async Task Cuda_alone_exits_1_naming_Cuda()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--execution-provider", "Cuda", "--max-new-tokens", "5");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            AssertOneLineWithoutStackTrace(run);
            Assert.That(run.Stderr, Does.Contain("Cuda"));
            Assert.That(run.Stdout, Is.Empty);
        });
    }
}
