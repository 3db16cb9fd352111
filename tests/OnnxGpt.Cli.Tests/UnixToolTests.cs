using System.Diagnostics;
using System.Globalization;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli.Tests;

/// <summary>
/// onnxgpt as a Unix tool: closed or broken standard streams, culture-invariant numbers, the prompt from a pipe, and
/// messages that name flags. The stream cases run the built CLI under bash, as a shell script would.
/// </summary>
public sealed class UnixToolTests
{
    private static string CliDll => Path.Combine(AppContext.BaseDirectory, "OnnxGpt.Cli.dll");

    /// <summary>Runs <c>dotnet OnnxGpt.Cli.dll</c> inside a bash command line: <c>{cli}</c> stands for it.</summary>
    private static async Task<CliRunner.Run> BashAsync(string commandLine)
    {
        var start = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(commandLine.Replace("{cli}", $"dotnet '{CliDll}'", StringComparison.Ordinal));
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return new CliRunner.Run(process.ExitCode, await stdout, await stderr);
    }

    [Test]
    public async Task Generate_with_stderr_closed_exits_0_and_prints_the_text()
    {
        var run = await BashAsync("{cli} generate ROMEO: --greedy -n 8 2>&-");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout.Trim(), Is.Not.Empty);
        });
    }

    [Test]
    public async Task Generate_with_stdout_closed_exits_0_quietly()
    {
        var run = await BashAsync("{cli} generate ROMEO: --greedy -n 8 >&-");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stderr, Is.Empty);
        });
    }

    [Test]
    public async Task A_broken_pipe_cancels_the_generation_and_exits_0_quietly()
    {
        // `true` exits before the model is loaded, so the first token's write meets a closed pipe. --verbose logs
        // "Generation finished" (and the summary line follows) only for a generation that ran to its end.
        var run = await BashAsync("{cli} generate ROMEO: --greedy -n 200 --verbose | true; exit ${PIPESTATUS[0]}");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stderr, Does.Contain("Loaded"), "the model loaded");
            Assert.That(run.Stderr, Does.Not.Contain("Generation finished"), run.ToString());
            Assert.That(run.Stderr, Does.Not.Contain("error"), run.ToString());
            Assert.That(run.Stderr, Does.Not.Contain("Cancelled"), run.ToString());
        });
    }

    [Test]
    public async Task Head_gets_its_bytes_and_the_pipeline_succeeds()
    {
        var run = await BashAsync("set -o pipefail; {cli} generate ROMEO: --greedy -n 200 | head -c 10");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout, Has.Length.EqualTo(10));
        });
    }

    [Test]
    public async Task The_prompt_comes_from_a_pipe_with_a_dash_or_no_prompt()
    {
        var piped = await BashAsync("echo ROMEO: | {cli} generate - --greedy -n 8 --json");
        var implicitPrompt = await BashAsync("echo ROMEO: | {cli} generate --greedy -n 8 --json");
        var argument = await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "-n", "8", "--json");

        Assert.Multiple(() =>
        {
            Assert.That(piped.Json().GetProperty("promptTokenIds").Ints(), Is.EqualTo(argument.Json().GetProperty("promptTokenIds").Ints()));
            Assert.That(piped.Json().GetProperty("text").GetString(), Is.EqualTo(argument.Json().GetProperty("text").GetString()));
            Assert.That(implicitPrompt.Json().GetProperty("text").GetString(), Is.EqualTo(argument.Json().GetProperty("text").GetString()));
        });
    }

    [Test]
    public async Task A_dash_reads_the_whole_input_without_its_final_line_break()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var console = new CliConsole(stdout, stderr, new StringReader("ROMEO:\nJULIET:\n"));

        var exit = await CliApp.RunAsync(["tokenize", "-"], console, CancellationToken.None);
        var direct = await CliRunner.RunAsync("tokenize", "ROMEO:\nJULIET:");

        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.Zero, stderr.ToString());
            Assert.That(stdout.ToString(), Is.EqualTo(direct.Stdout));
        });
    }

    [Test]
    public async Task A_dash_without_piped_input_exits_2()
    {
        var run = await CliRunner.RunAsync("generate", "-");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.Stderr, Does.StartWith("error: - reads the text from standard input"));
        });
    }

    [Test]
    public async Task A_comma_decimal_is_an_error_naming_the_flag_in_any_culture()
    {
        var culture = CultureInfo.CurrentCulture;
        CultureInfo.CurrentCulture = CultureInfo.GetCultureInfo("de-DE");
        try
        {
            var comma = await CliRunner.RunAsync("generate", "ROMEO:", "--temperature", "1,5", "-n", "3");
            var point = await CliRunner.RunAsync("generate", "ROMEO:", "--temperature", "0.5", "--seed", "7", "-n", "3", "--json");
            var invariant = await CliRunner.RunAsync("generate", "ROMEO:", "--temperature", "0.5", "--seed", "7", "-n", "3", "--json");

            Assert.Multiple(() =>
            {
                Assert.That(comma.ExitCode, Is.EqualTo(2));
                Assert.That(comma.StderrLines[0], Is.EqualTo("error: --temperature takes a number with '.' for decimals (for example --temperature 0.7), not '1,5'."));
                Assert.That(comma.Stdout, Is.Empty);
                Assert.That(point.Json().GetProperty("tokenIds").Ints(), Has.Length.EqualTo(3));
                Assert.That(point.Json().GetProperty("tokenIds").Ints(), Is.EqualTo(invariant.Json().GetProperty("tokenIds").Ints()));
            });
        }
        finally
        {
            CultureInfo.CurrentCulture = culture;
        }
    }

    [TestCase("--top-k", "1.5")]
    [TestCase("--seed", "1,000")]
    [TestCase("--top-p", "nan")]
    public async Task Numbers_that_do_not_parse_exit_2_naming_the_flag_not_a_type(string flag, string value)
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", flag, value);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2));
            Assert.That(run.StderrLines[0], Does.StartWith($"error: {flag} takes a "));
            Assert.That(run.StderrLines[0], Does.EndWith($"not '{value}'."));
            Assert.That(run.Stderr, Does.Not.Contain("System."));
        });
    }

    [Test]
    public async Task A_missing_model_names_the_model_flag_not_the_option()
    {
        var folder = Path.Combine(Path.GetTempPath(), "onnxgpt-no-such-model-" + Guid.NewGuid().ToString("N"));

        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--model", folder);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1));
            Assert.That(run.Stderr, Does.Contain("Check --model."));
            Assert.That(run.Stderr, Does.Not.Contain("GptOptions"));
        });
    }

    [Test]
    public async Task A_prompt_longer_than_the_context_is_bad_input_exit_2()
    {
        var ids = string.Join(',', Enumerable.Repeat(859, 300));

        var run = await CliRunner.RunAsync("generate", "--prompt-ids", ids);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.Stderr, Does.Contain("256"));
        });
    }
}
