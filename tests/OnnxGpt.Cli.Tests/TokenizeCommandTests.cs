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
            Assert.That(run.Stdout.Trim(), Is.EqualTo("""{"ids":[859,26],"tokens":["ROMEO",":"],"texts":["ROMEO",":"]}"""));
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

    [Test]
    public async Task Special_tokens_are_added_unless_no_special_tokens_is_given()
    {
        // tiny-llama-shakespeare's SentencePiece tokenizer adds bos (1); reference.json holds its prompt ids.
        var model = Path.Combine(AppContext.BaseDirectory, "fixtures", "tiny-llama-shakespeare");
        using var reference = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(model, "reference.json")));
        var romeo = reference.RootElement.GetProperty("greedy").GetProperty("romeo");
        var expected = romeo.GetProperty("prompt_ids").Ints();

        var with = await CliRunner.RunAsync("tokenize", romeo.GetProperty("prompt").GetString()!, "--model", model);
        var without = await CliRunner.RunAsync("tokenize", romeo.GetProperty("prompt").GetString()!, "--model", model, "--no-special-tokens", "--json");

        Assert.Multiple(() =>
        {
            Assert.That(expected[0], Is.EqualTo(1), "the reference starts with bos");
            Assert.That(with.Stdout.Trim(), Is.EqualTo(string.Join(',', expected)), with.ToString());
            Assert.That(without.Json().GetProperty("ids").Ints(), Is.EqualTo(expected.Skip(1)), without.ToString());
        });
    }
}
