namespace OnnxGpt.Cli.Tests;

/// <summary><c>generate --prompt-lookup</c> and <c>--draft-model</c>: the reference greedy ids, with the drafts counted.</summary>
public sealed class SpeculativeGenerateTests
{
    [Test]
    public async Task Prompt_lookup_and_a_draft_model_give_the_reference_greedy_ids()
    {
        var lookup = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "64", "--prompt-lookup", "5", "--json")).Json();
        var draft = (await CliRunner.RunAsync("generate", "ROMEO:", "--greedy", "--max-new-tokens", "64", "--draft-model", CliRunner.EmbeddedModel, "--draft-tokens", "3", "--json")).Json();

        Assert.Multiple(() =>
        {
            Assert.That(lookup.GetProperty("tokenIds").Ints(), Is.EqualTo(CliRunner.RomeoGreedyIds()));
            Assert.That(lookup.GetProperty("speculation").GetProperty("draftedTokens").GetInt32(), Is.GreaterThan(0));
            Assert.That(draft.GetProperty("tokenIds").Ints(), Is.EqualTo(CliRunner.RomeoGreedyIds()));
            Assert.That(draft.GetProperty("speculation").GetProperty("acceptedDraftTokens").GetInt32(), Is.EqualTo(draft.GetProperty("speculation").GetProperty("draftedTokens").GetInt32()), "a model agrees with itself");
        });
    }

    [Test]
    public async Task Out_of_range_prompt_lookup_is_a_usage_error_naming_the_setting()
    {
        var run = await CliRunner.RunAsync("generate", "ROMEO:", "--prompt-lookup", "100");

        Assert.Multiple(() =>
        {
            Assert.That(run.ExitCode, Is.EqualTo(2), run.ToString());
            Assert.That(run.Stderr, Does.Contain("--prompt-lookup must be in [0, 64]"));
        });
    }
}
