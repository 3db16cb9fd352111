namespace OnnxGpt.Cli.Tests;

public sealed class GenerateSamplingFlagsTests
{
    [Test]
    public async Task Top_logprobs_lists_every_token_with_its_alternatives()
    {
        var json = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "6", "--top-logprobs", "3", "--json")).Json();
        var tokens = json.GetProperty("tokens").EnumerateArray().ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(tokens.Select(t => t.GetProperty("id").GetInt32()), Is.EqualTo(json.GetProperty("tokenIds").Ints()));
            Assert.That(tokens.Select(t => t.GetProperty("id").GetInt32()), Is.EqualTo(CliRunner.RomeoGreedyIds().Take(6)));
            Assert.That(tokens[0].GetProperty("text").GetString(), Is.EqualTo("\n"));
            foreach (var token in tokens)
            {
                var top = token.GetProperty("topLogprobs").EnumerateArray().ToArray();
                Assert.That(top, Has.Length.EqualTo(3));
                Assert.That(top[0].GetProperty("id").GetInt32(), Is.EqualTo(token.GetProperty("id").GetInt32()), "greedy takes the most likely");
                Assert.That(top[0].GetProperty("logprob").GetSingle(), Is.EqualTo(token.GetProperty("logprob").GetSingle()));
                Assert.That(top.Select(t => t.GetProperty("logprob").GetSingle()), Is.Ordered.Descending);
                Assert.That(top.Select(t => t.GetProperty("text").GetString()), Has.None.Null);
            }
        });
    }

    [Test]
    public async Task Without_top_logprobs_the_json_has_no_token_list()
    {
        var json = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "2", "--json")).Json();

        Assert.That(json.TryGetProperty("tokens", out _), Is.False);
    }

    [Test]
    public async Task Top_logprobs_0_lists_logprobs_without_alternatives()
    {
        var json = (await CliRunner.RunAsync("generate", "ROMEO:", "--seed", "3", "--max-new-tokens", "4", "--top-logprobs", "0", "--json")).Json();
        var tokens = json.GetProperty("tokens").EnumerateArray().ToArray();

        Assert.Multiple(() =>
        {
            Assert.That(tokens, Has.Length.EqualTo(4));
            Assert.That(tokens.Select(t => t.GetProperty("logprob").GetSingle()), Has.All.LessThanOrEqualTo(0f));
            Assert.That(tokens.Select(t => t.GetProperty("topLogprobs").GetArrayLength()), Has.All.Zero);
        });
    }

    [Test]
    public async Task Logit_bias_and_min_new_tokens_steer_the_greedy_output()
    {
        var banned = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "-n", "3", "--logit-bias", "199=-inf", "--json")).Json();
        var eosAtOnce = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "-n", "20", "--logit-bias", "0=100", "--json")).Json();
        var held = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "-n", "20", "--logit-bias", "0=100", "--min-new-tokens", "5", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(banned.GetProperty("tokenIds").Ints()[0], Is.EqualTo(532));
            Assert.That(eosAtOnce.GetProperty("finishReason").GetString(), Is.EqualTo("Eos"));
            Assert.That(eosAtOnce.GetProperty("generatedTokenCount").GetInt32(), Is.EqualTo(1));
            Assert.That(held.GetProperty("finishReason").GetString(), Is.EqualTo("Eos"));
            Assert.That(held.GetProperty("generatedTokenCount").GetInt32(), Is.EqualTo(6));
        });
    }

    [Test]
    public async Task Every_sampling_flag_is_accepted_and_the_seed_makes_it_repeatable()
    {
        string[] args =
        [
            "generate", "ROMEO:", "-n", "24", "--seed", "9", "--temperature", "1.1", "--top-k", "50", "--top-p", "0.95", "--min-p", "0.01",
            "--typical-p", "0.95", "--repetition-penalty", "1.1", "--frequency-penalty", "0.5", "--presence-penalty", "0.3",
            "--no-repeat-ngram-size", "3", "--min-new-tokens", "4", "--logit-bias", "5=-2", "--logit-bias", "7=1.5", "--json",
        ];

        var first = (await CliRunner.RunAsync(args)).Json();
        var again = (await CliRunner.RunAsync(args)).Json();

        Assert.Multiple(() =>
        {
            Assert.That(again.GetProperty("tokenIds").Ints(), Is.EqualTo(first.GetProperty("tokenIds").Ints()));
            Assert.That(first.GetProperty("generatedTokenCount").GetInt32(), Is.GreaterThanOrEqualTo(4));
        });
    }

    [TestCase("--typical-p", "0", "TypicalP")]
    [TestCase("--frequency-penalty", "-2.5", "FrequencyPenalty")]
    [TestCase("--presence-penalty", "2.5", "PresencePenalty")]
    [TestCase("--no-repeat-ngram-size", "-1", "NoRepeatNGramSize")]
    [TestCase("--min-new-tokens", "-1", "MinNewTokens")]
    [TestCase("--top-logprobs", "21", "TopLogprobs")]
    [TestCase("--logit-bias", "1=", "LogitBias")]
    [TestCase("--logit-bias", "-1=2", "LogitBias")]
    [TestCase("--logit-bias", "2048=2", "LogitBias")]
    [TestCase("--temperature", "-1", "Temperature")]
    [TestCase("--repetition-penalty", "0", "RepetitionPenalty")]
    [TestCase("--top-k", "-1", "TopK")]
    public async Task Bad_values_exit_2_naming_the_flag_not_the_setting(string flag, string value, string setting)
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", flag, value);

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.StderrLines, Has.Length.EqualTo(1), run.ToString());
            Assert.That(run.Stderr, Does.StartWith($"error: {flag} "));
            Assert.That(run.Stderr, Does.Not.Contain(setting));
            Assert.That(run.Stdout, Is.Empty);
        });
    }
}
