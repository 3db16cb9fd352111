using OnnxGpt.Generation;
using OnnxGpt.Hosting;

namespace OnnxGpt.Tests.Generation;

/// <summary>GetService finds every layer of a generator chain, as IChatClient.GetService does.</summary>
[TestFixture]
public sealed class DelegatingGptGeneratorTests : TinyShakespeareFixture
{
    [Test]
    public async Task Each_layer_of_a_chain_is_found_and_calls_pass_through()
    {
        using var limited = new ConcurrencyLimitedGenerator(Generator, maxConcurrentRequests: 1, maxQueuedRequests: null);
        IGptGenerator chain = new TaggingGenerator(limited);

        var expected = await Generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 5 });
        var result = await chain.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 5 });

        Assert.Multiple(() =>
        {
            Assert.That(result.TokenIds, Is.EqualTo(expected.TokenIds));
            Assert.That(chain.ModelInfo, Is.SameAs(Model.Info));
            Assert.That(chain.GetService(typeof(TaggingGenerator)), Is.SameAs(chain));
            Assert.That(chain.GetService(typeof(ConcurrencyLimitedGenerator)), Is.SameAs(limited));
            Assert.That(chain.GetService(typeof(GptGenerator)), Is.SameAs(Generator));
            Assert.That(chain.GetService(typeof(GptModel)), Is.SameAs(Model));
            Assert.That(chain.GetService(typeof(GptModel), serviceKey: "other"), Is.Null);
            Assert.That(chain.GetService(typeof(string)), Is.Null);
        });
    }

    [Test]
    public void A_generator_that_only_implements_the_interface_answers_for_itself()
    {
        IGptGenerator fake = new Chat.FakeGenerator();

        Assert.Multiple(() =>
        {
            Assert.That(fake.GetService(typeof(IGptGenerator)), Is.SameAs(fake));
            Assert.That(fake.GetService(typeof(GptModel)), Is.Null);
        });
    }

    private sealed class TaggingGenerator(IGptGenerator inner) : DelegatingGptGenerator(inner);
}
