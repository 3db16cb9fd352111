namespace OnnxGpt.Cli.Tests;

/// <summary><c>onnxgpt serve</c>'s refusals before it listens (serving itself is tested over HTTP in OnnxGpt.Server.Tests).</summary>
public sealed class ServeCommandTests
{
    [TestCase("--max-concurrent", "0", "error: --max-concurrent must be at least 1, but was 0.")]
    [TestCase("--max-queued", "-1", "error: --max-queued must be at least 0, but was -1.")]
    [TestCase("--max-body-bytes", "0", "error: --max-body-bytes must be at least 1, but was 0.")]
    [TestCase("--max-tokens", "0", "error: --max-tokens must be at least 1, but was 0.")]
    public async Task A_limit_out_of_range_exits_2_naming_the_flag(string flag, string value, string expected)
    {
        var run = await CliRunner.RunAsync("serve", flag, value);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.Stderr, Is.EqualTo(expected + Environment.NewLine));
        });
    }

    [Test]
    public async Task Two_models_with_one_name_exit_2()
    {
        var run = await CliRunner.RunAsync("serve", "--model", CliRunner.EmbeddedModel, "--model", CliRunner.EmbeddedModel + Path.DirectorySeparatorChar);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.Stderr, Does.Contain("Two --model folders are both named 'tiny-shakespeare'"));
        });
    }

    [Test]
    public async Task A_missing_model_folder_exits_1_naming_it_before_listening()
    {
        var folder = Path.Combine(Path.GetTempPath(), "onnxgpt-no-such-model-" + Guid.NewGuid().ToString("N"));

        var run = await CliRunner.RunAsync("serve", "--model", folder, "--urls", "http://127.0.0.1:0");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
            Assert.That(run.Stderr, Does.Contain(folder));
            Assert.That(run.Stderr, Does.Not.Contain("   at "));
            Assert.That(run.Stderr, Does.Not.Contain("Now listening"));
        });
    }
}
