using System.Text.Json;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli.Tests;

public sealed class NextTokenCommandTests
{
    private static float[] Floats(JsonElement element) => [.. element.EnumerateArray().Select(e => e.GetSingle())];

    [Test]
    public async Task Text_output_lists_the_top_tokens_with_escaped_text_probability_and_bar()
    {
        var run = await CliRunner.RunAsync("next-token", "ROMEO:");
        var lines = run.Stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.Zero, run.ToString());
            Assert.That(run.Stderr, Is.Empty);
            // The model's defaults (generation_config.json): temperature 0.8, top-k 40.
            Assert.That(lines[0], Is.EqualTo("40 of 2048 tokens allowed after 2 prompt tokens (sampling; stages: temperature 0.8 > top-k 40)"));
            Assert.That(lines[1], Is.EqualTo("   #      id  token         prob"));
            Assert.That(lines[2], Is.EqualTo("   1     199  \"\\n\"        99.79%  ███████████████████████████████████████▉"));
            Assert.That(lines[3], Is.EqualTo("   2     532  \" O\"         0.05%"));
            Assert.That(lines, Has.Length.EqualTo(13), "header, column names, 10 tokens, the rest");
            Assert.That(lines[^1], Does.Match(@"^\s+\(30 more\)\s+0\.06%$"));
        });
    }

    [Test]
    public async Task Json_matches_the_distribution_api_and_sums_to_one()
    {
        var json = (await CliRunner.RunAsync("next-token", "ROMEO:", "--top-k", "40", "--json")).Json();
        using var model = GptModel.Load(CliRunner.EmbeddedModel);
        var api = await GptGenerator.Create(model).GetNextTokenDistributionAsync("ROMEO:", new GenerationOptions { TopK = 40 });

        var allowed = json.GetProperty("allowed").Ints();
        var probs = Floats(json.GetProperty("probs"));
        var top = json.GetProperty("top").EnumerateArray().ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(allowed, Is.EqualTo(api.AllowedTokenIds));
            Assert.That(allowed, Is.Ordered.Ascending);
            Assert.That(probs, Is.EqualTo(api.Probabilities));
            Assert.That(probs.Sum(), Is.EqualTo(1f).Within(1e-5f));
            Assert.That(top, Has.Length.EqualTo(10));
            Assert.That(top.Select(t => t.GetProperty("id").GetInt32()), Is.EqualTo(api.GetTop(10).Select(t => t.Id)));
            Assert.That(top.Select(t => t.GetProperty("prob").GetSingle()), Is.Ordered.Descending);
            Assert.That(top[0].GetProperty("text").GetString(), Is.EqualTo("\n"));
            Assert.That(top[0].GetProperty("logprob").GetSingle(), Is.EqualTo(MathF.Log(top[0].GetProperty("prob").GetSingle())).Within(1e-5f));
            Assert.That(json.GetProperty("sampling").GetBoolean(), Is.True);
        });
    }

    [Test]
    public async Task Flags_override_the_model_defaults()
    {
        var greedy = (await CliRunner.RunAsync("next-token", "ROMEO:", "--greedy", "--json", "--top", "3")).Json();
        var banned = (await CliRunner.RunAsync("next-token", "ROMEO:", "--logit-bias", "199=-inf", "--top-k", "5", "--json")).Json();
        var ids = (await CliRunner.RunAsync("next-token", "--prompt-ids", "466,695,951,26,199,755,325,268,1679,405,301,413,1541,1048,338", "--top-p", "0.5", "--temperature", "1.5", "--top-k", "0", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(greedy.GetProperty("sampling").GetBoolean(), Is.False);
            Assert.That(greedy.GetProperty("allowed").GetArrayLength(), Is.EqualTo(2048), "greedy runs no warper");
            Assert.That(greedy.GetProperty("top").GetArrayLength(), Is.EqualTo(3));
            Assert.That(banned.GetProperty("allowed").Ints(), Has.Length.EqualTo(5).And.No.Member(199));
            Assert.That(ids.GetProperty("promptTokenIds").Ints(), Has.Length.EqualTo(15));
            Assert.That(ids.GetProperty("allowed").GetArrayLength(), Is.GreaterThan(1));
        });
    }

    [Test]
    public async Task Top_limits_the_rows()
    {
        var run = await CliRunner.RunAsync("next-token", "ROMEO:", "--top", "3");

        Assert.That(run.Stdout.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(6));
    }

    [TestCase("--typical-p", "1.5", "TypicalP")]
    [TestCase("--frequency-penalty", "3", "FrequencyPenalty")]
    [TestCase("--logit-bias", "x", "LogitBias")]
    [TestCase("--logit-bias", "5000=1", "LogitBias")]
    [TestCase("--top", "0", "Top")]
    [TestCase("--min-p", "2", "MinP")]
    public async Task Bad_values_exit_2_naming_the_flag_not_the_setting(string flag, string value, string setting)
    {
        var run = await CliRunner.RunAsync("next-token", "ROMEO:", flag, value);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.StderrLines, Has.Length.EqualTo(1));
            Assert.That(run.Stderr, Does.StartWith($"error: {flag} "));
            Assert.That(run.Stderr, Does.Not.Contain(setting));
            Assert.That(run.Stdout, Is.Empty);
        });
    }

    [TestCase("\n", "\"\\n\"")]
    [TestCase(" to", "\" to\"")]
    [TestCase("a\tb\"c\\", "\"a\\tb\\\"c\\\\\"")]
    [TestCase("\r\u0001", "\"\\r\\u0001\"")]
    public void Escape_shows_control_characters_visibly(string text, string shown) =>
        Assert.That(NextTokenCommand.Escape(text), Is.EqualTo(shown));

    [TestCase(1f, 40, "")]
    [TestCase(0.5f, 20, "")]
    [TestCase(0.0125f, 0, "▌")]
    [TestCase(0.01f, 0, "▍")]
    [TestCase(0f, 0, "")]
    public void Bar_scales_with_the_probability(float probability, int fullBlocks, string partial) =>
        Assert.That(NextTokenCommand.Bar(probability), Is.EqualTo(new string('█', fullBlocks) + partial));
}
