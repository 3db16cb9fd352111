namespace OnnxGpt.Cli.Tests;

public sealed class TokenizeCommandTests
{
    [Test]
    public async Task Json_prints_the_ids()
    {
        var run = await CliRunner.RunAsync("tokenize", "ROMEO:", "--json");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout.Trim(), Is.EqualTo("""{"ids":[859,26]}"""));
        });
    }

    [Test]
    public async Task Text_prints_the_ids_comma_separated()
    {
        var run = await CliRunner.RunAsync("tokenize", "ROMEO:");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stdout, Is.EqualTo("859,26" + Environment.NewLine));
        });
    }

    [Test]
    public async Task An_explicit_model_folder_is_used()
    {
        var run = await CliRunner.RunAsync("tokenize", "ROMEO:", "--model", CliRunner.EmbeddedModel);

        Assert.That(run.Stdout.Trim(), Is.EqualTo("859,26"), run.ToString());
    }
}
