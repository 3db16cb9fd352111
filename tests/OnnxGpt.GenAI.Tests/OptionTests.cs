using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.GenAI.Tests;

/// <summary>Settings onnxruntime-genai lacks are refused, naming the setting; the others reach its search options.</summary>
public class OptionTests
{
    private static readonly Lazy<GenAIGenerator> Shakespeare = new(() => Fixtures.Create(Fixtures.TinyShakespeare));

    public static IEnumerable<TestCaseData> UnsupportedSettings()
    {
        yield return new TestCaseData(new GenerationOptions { MinP = 0.1f }, "MinP").SetName("MinP");
        yield return new TestCaseData(new GenerationOptions { TypicalP = 0.9f }, "TypicalP").SetName("TypicalP");
        yield return new TestCaseData(new GenerationOptions { FrequencyPenalty = 0.5f }, "FrequencyPenalty").SetName("FrequencyPenalty");
        yield return new TestCaseData(new GenerationOptions { PresencePenalty = -0.5f }, "PresencePenalty").SetName("PresencePenalty");
        yield return new TestCaseData(new GenerationOptions { LogitBias = new Dictionary<int, float> { [5] = -10f } }, "LogitBias").SetName("LogitBias");
        yield return new TestCaseData(new GenerationOptions { BannedTokenSequences = [[5, 6]] }, "BannedTokenSequences").SetName("BannedTokenSequences");
        yield return new TestCaseData(new GenerationOptions { CustomStages = [new NoOpStage()] }, "CustomStages").SetName("CustomStages");
        yield return new TestCaseData(new GenerationOptions { TopLogprobs = 3 }, "TopLogprobs").SetName("TopLogprobs");
        yield return new TestCaseData(new GenerationOptions { PromptLookupTokens = 4 }, "PromptLookupTokens").SetName("PromptLookupTokens");
    }

    [TestCaseSource(nameof(UnsupportedSettings))]
    public void A_setting_onnxruntime_genai_lacks_is_an_argument_exception_naming_it(GenerationOptions options, string setting)
    {
        options.MaxNewTokens = 3;
        var ex = Assert.ThrowsAsync<ArgumentException>(() => Shakespeare.Value.GenerateAsync("ROMEO:", options));

        Assert.That(ex!.ParamName, Is.EqualTo(setting));
        Assert.That(ex.Message, Does.Contain(setting).And.Contain("OnnxGpt backend"));
    }

    [TestCaseSource(nameof(UnsupportedSettings))]
    public void The_same_setting_as_an_application_default_fails_at_creation(GenerationOptions options, string setting)
    {
        var gpt = new GptOptions { ModelPath = Fixtures.TinyShakespeare, Generation = options };

        var ex = Assert.Throws<ArgumentException>(() => GenAIGenerator.Create(gpt));

        Assert.That(ex!.ParamName, Is.EqualTo(setting));
        Assert.That(ex.Message, Does.Contain("GptOptions.Generation." + setting));
    }

    [Test]
    public void A_draft_model_is_refused_at_creation_naming_the_setting()
    {
        var ex = Assert.Throws<ArgumentException>(() => GenAIGenerator.Create(new GptOptions { ModelPath = Fixtures.TinyShakespeare, DraftModelPath = Fixtures.TinyShakespeare }));

        Assert.That(ex!.Message, Does.Contain("DraftModelPath").And.Contain("OnnxGpt backend"));
    }

    [Test]
    public async Task Neutral_values_of_those_settings_are_accepted()
    {
        var options = new GenerationOptions
        {
            DoSample = false,
            MaxNewTokens = 8,
            MinP = 0f,
            TypicalP = 1f,
            FrequencyPenalty = 0f,
            PresencePenalty = 0f,
            LogitBias = new Dictionary<int, float>(),
            BannedTokenSequences = [],
            CustomStages = [],
        };

        var result = await Shakespeare.Value.GenerateAsync("ROMEO:", options);

        Assert.That(result.TokenIds, Is.EqualTo(Fixtures.Greedy("s", Fixtures.TinyShakespeare).First().GreedyIds.Take(8)));
    }

    [Test]
    public void Out_of_range_settings_are_checked_as_by_the_core_backend()
    {
        var ex = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Shakespeare.Value.GenerateAsync("ROMEO:", new GenerationOptions { TopP = 1.5f }));
        Assert.That(ex!.ParamName, Is.EqualTo("TopP"));
    }

    [Test]
    public void A_prompt_that_fills_the_context_throws_PromptTooLongException()
    {
        Assert.ThrowsAsync<PromptTooLongException>(() => Shakespeare.Value.GenerateAsync(Enumerable.Repeat(5, 256), new GenerationOptions { MaxNewTokens = 1 }));
    }

    [Test]
    public void A_prompt_id_outside_the_vocabulary_throws()
    {
        Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Shakespeare.Value.GenerateAsync(new[] { 1, 5000 }, new GenerationOptions { MaxNewTokens = 1 }));
    }

    [Test]
    public void Sampling_settings_map_to_onnxruntime_genai_search_options()
    {
        using var model = new Model(Fixtures.TinyShakespeare);
        using var parameters = new GeneratorParams(model);
        var settings = new GenerationOptions { DoSample = true, Temperature = 0.7f, TopK = 12, TopP = 0.9f, RepetitionPenalty = 1.1f, NoRepeatNGramSize = 3, MinNewTokens = 4, Seed = 42 };

        GenAISearchOptions.Apply(parameters, settings, promptLength: 10, maxNewTokens: 20);

        Assert.Multiple(() =>
        {
            Assert.That(parameters.GetSearchBool("do_sample"), Is.True);
            Assert.That(parameters.GetSearchNumber("temperature"), Is.EqualTo(0.7).Within(1e-6));
            Assert.That(parameters.GetSearchNumber("top_k"), Is.EqualTo(12));
            Assert.That(parameters.GetSearchNumber("top_p"), Is.EqualTo(0.9).Within(1e-6));
            Assert.That(parameters.GetSearchNumber("repetition_penalty"), Is.EqualTo(1.1).Within(1e-6));
            Assert.That(parameters.GetSearchNumber("no_repeat_ngram_size"), Is.EqualTo(3));
            Assert.That(parameters.GetSearchNumber("min_length"), Is.EqualTo(14), "min_length counts the prompt");
            Assert.That(parameters.GetSearchNumber("max_length"), Is.EqualTo(30), "max_length counts the prompt");
            Assert.That(parameters.GetSearchNumber("random_seed"), Is.EqualTo(42));
        });
    }

    [Test]
    public void Greedy_is_chosen_by_DoSample_false_or_temperature_zero()
    {
        using var model = new Model(Fixtures.TinyShakespeare);
        using var parameters = new GeneratorParams(model);

        GenAISearchOptions.Apply(parameters, new GenerationOptions { DoSample = true, Temperature = 0f }, 3, 5);

        Assert.That(parameters.GetSearchBool("do_sample"), Is.False);
    }

    private sealed class NoOpStage : ISamplingStage
    {
        public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
        {
        }
    }
}
