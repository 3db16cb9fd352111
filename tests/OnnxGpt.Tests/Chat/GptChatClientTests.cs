using System.Text.Json;
using Microsoft.Extensions.AI;
using OnnxGpt.Chat;
using OnnxGpt.Generation;
using OnnxGpt.Models;

namespace OnnxGpt.Tests.Chat;

[TestFixture]
public sealed class GptChatClientTests
{
    private static readonly ChatMessage[] Hi = [new(ChatRole.User, "hi")];

    [Test]
    public async Task Maps_chat_options_onto_generation_options()
    {
        var fake = new FakeGenerator();
        using var client = new GptChatClient(fake);

        await client.GetResponseAsync(Hi, new ChatOptions
        {
            MaxOutputTokens = 12,
            Temperature = 0.5f,
            TopP = 0.9f,
            TopK = 7,
            FrequencyPenalty = 0.5f,
            PresencePenalty = -0.25f,
            Seed = 42,
            StopSequences = ["END"],
        });

        var options = fake.LastOptions!;
        Assert.Multiple(() =>
        {
            Assert.That(fake.LastPrompt!.Text, Is.EqualTo("User: hi\nAssistant:"));
            Assert.That(options.MaxNewTokens, Is.EqualTo(12));
            Assert.That(options.DoSample, Is.True);
            Assert.That(options.Temperature, Is.EqualTo(0.5f));
            Assert.That(options.TopP, Is.EqualTo(0.9f));
            Assert.That(options.TopK, Is.EqualTo(7));
            Assert.That(options.FrequencyPenalty, Is.EqualTo(0.5f));
            Assert.That(options.PresencePenalty, Is.EqualTo(-0.25f));
            Assert.That(options.Seed, Is.EqualTo(42));
            Assert.That(options.StopSequences, Is.EqualTo(new[] { "END", "\nUser:" }));
            Assert.That(options.MinP, Is.Null);
            Assert.That(options.RepetitionPenalty, Is.Null);
        });
    }

    [Test]
    public async Task Temperature_zero_is_greedy_and_no_sampling_setting_leaves_the_choice_to_the_defaults()
    {
        var fake = new FakeGenerator();
        using var client = new GptChatClient(fake);

        await client.GetResponseAsync(Hi, new ChatOptions { Temperature = 0 });
        Assert.That(fake.LastOptions!.DoSample, Is.False);

        await client.GetResponseAsync(Hi, new ChatOptions { TopK = 5 });
        Assert.That(fake.LastOptions!.DoSample, Is.True);

        await client.GetResponseAsync(Hi);
        Assert.Multiple(() =>
        {
            Assert.That(fake.LastOptions!.DoSample, Is.Null);
            Assert.That(fake.LastOptions.Temperature, Is.Null);
            Assert.That(fake.LastOptions.MaxNewTokens, Is.Null);
            Assert.That(fake.LastOptions.StopSequences, Is.EqualTo(new[] { "\nUser:" }));
        });
    }

    [Test]
    public async Task Default_stop_sequences_apply_when_the_request_sets_none()
    {
        var fake = new FakeGenerator();
        using var client = new GptChatClient(fake, new GptChatClientOptions { DefaultStopSequences = ["\n\n"] });

        await client.GetResponseAsync(Hi);
        Assert.That(fake.LastOptions!.StopSequences, Is.EqualTo(new[] { "\n\n", "\nUser:" }));

        await client.GetResponseAsync(Hi, new ChatOptions { StopSequences = ["!"] });
        Assert.That(fake.LastOptions!.StopSequences, Is.EqualTo(new[] { "!", "\nUser:" }));
    }

    [Test]
    public async Task Instructions_become_a_leading_system_message()
    {
        var fake = new FakeGenerator();
        using var client = new GptChatClient(fake, new GptChatClientOptions { TemplateName = "chatml" });

        await client.GetResponseAsync(Hi, new ChatOptions { Instructions = "Be brief." });

        Assert.That(fake.LastPrompt!.Text, Is.EqualTo("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"));
    }

    [Test]
    public async Task A_raw_representation_factory_may_supply_generation_options_to_start_from()
    {
        var fake = new FakeGenerator();
        using var client = new GptChatClient(fake);

        await client.GetResponseAsync(Hi, new ChatOptions
        {
            Temperature = 0.7f,
            RawRepresentationFactory = _ => new GenerationOptions { MinP = 0.1f, RepetitionPenalty = 1.2f, Temperature = 2f },
        });

        Assert.Multiple(() =>
        {
            Assert.That(fake.LastOptions!.MinP, Is.EqualTo(0.1f));
            Assert.That(fake.LastOptions.RepetitionPenalty, Is.EqualTo(1.2f));
            Assert.That(fake.LastOptions.Temperature, Is.EqualTo(0.7f));
        });
        Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Hi, new ChatOptions { RawRepresentationFactory = _ => "nope" }));
    }

    [Test]
    public void Settings_out_of_range_name_the_chat_option()
    {
        using var client = new GptChatClient(new FakeGenerator());

        var seed = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetResponseAsync(Hi, new ChatOptions { Seed = 1L << 40 }));
        var max = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetResponseAsync(Hi, new ChatOptions { MaxOutputTokens = 0 }));
        var topP = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetResponseAsync(Hi, new ChatOptions { TopP = 1.5f }));
        var frequency = Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.GetResponseAsync(Hi, new ChatOptions { FrequencyPenalty = 3 }));
        var temperature = Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync(Hi, new ChatOptions { Temperature = -1 }))
            {
            }
        });

        Assert.Multiple(() =>
        {
            Assert.That(seed!.ParamName, Is.EqualTo("Seed"));
            Assert.That(max!.ParamName, Is.EqualTo("MaxOutputTokens"));
            Assert.That(max.Message, Does.Contain("MaxOutputTokens must be at least 1"));
            Assert.That(topP!.ParamName, Is.EqualTo("TopP"));
            Assert.That(temperature!.ParamName, Is.EqualTo("Temperature"));
            Assert.That(frequency!.ParamName, Is.EqualTo("FrequencyPenalty"));
        });
    }

    private static IEnumerable<TestCaseData> UnsupportedOptions()
    {
        yield return new TestCaseData(new ChatOptions { Tools = [AIFunctionFactory.Create(() => 42, "answer")] }, "Tools").SetName("Tools");
        yield return new TestCaseData(new ChatOptions { ToolMode = ChatToolMode.RequireAny }, "ToolMode").SetName("ToolMode");
        yield return new TestCaseData(new ChatOptions { AllowBackgroundResponses = true }, "AllowBackgroundResponses").SetName("AllowBackgroundResponses");
        yield return new TestCaseData(new ChatOptions { AdditionalProperties = new() { ["min_p"] = 0.1 } }, "AdditionalProperties").SetName("AdditionalProperties");
        yield return new TestCaseData(new ChatOptions { ModelId = "gpt-4o" }, "ModelId").SetName("ModelId of another model");
    }

    [TestCaseSource(nameof(UnsupportedOptions))]
    public void Options_it_cannot_honour_are_refused_by_name(ChatOptions options, string name)
    {
        var fake = new FakeGenerator();
        using var client = new GptChatClient(fake);

        var ex = Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Hi, options));

        Assert.Multiple(() =>
        {
            Assert.That(ex!.Message, Does.Contain("ChatOptions." + name));
            Assert.That(fake.LastPrompt, Is.Null, "nothing was generated");
        });
    }

    [Test]
    public async Task Text_format_no_tools_and_its_own_model_id_are_accepted()
    {
        using var client = new GptChatClient(new FakeGenerator());
        var response = await client.GetResponseAsync(Hi, new ChatOptions { ResponseFormat = ChatResponseFormat.Text, ToolMode = ChatToolMode.None, Tools = [], ModelId = "MY-MODEL" });
        Assert.That(response.Text, Is.EqualTo("Hello world"));
    }

    [Test]
    public void Message_content_other_than_text_is_refused()
    {
        using var client = new GptChatClient(new FakeGenerator());
        var message = new ChatMessage(ChatRole.User, [new TextContent("look"), new DataContent(new byte[] { 1, 2 }, "image/png")]);

        var ex = Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync([message]));

        Assert.That(ex!.Message, Does.Contain("DataContent"));
    }

    [TestCase(FinishReason.Eos, "stop")]
    [TestCase(FinishReason.Stop, "stop")]
    [TestCase(FinishReason.Length, "length")]
    public async Task A_response_carries_text_finish_reason_usage_and_model_id(FinishReason finish, string expected)
    {
        using var client = new GptChatClient(new FakeGenerator(finish));

        var response = await client.GetResponseAsync(Hi);

        Assert.Multiple(() =>
        {
            Assert.That(response.Text, Is.EqualTo("Hello world"));
            Assert.That(response.Messages.Single().Role, Is.EqualTo(ChatRole.Assistant));
            Assert.That(response.FinishReason?.Value, Is.EqualTo(expected));
            Assert.That(response.Usage?.InputTokenCount, Is.EqualTo(3));
            Assert.That(response.Usage?.OutputTokenCount, Is.EqualTo(4));
            Assert.That(response.Usage?.TotalTokenCount, Is.EqualTo(7));
            Assert.That(response.ModelId, Is.EqualTo("my-model"));
            Assert.That(response.ResponseId, Does.StartWith("chatcmpl-"));
            Assert.That(response.RawRepresentation, Is.InstanceOf<GenerationResult>());
        });
    }

    [Test]
    public async Task A_stream_carries_the_text_and_ends_with_finish_reason_and_usage()
    {
        using var client = new GptChatClient(new FakeGenerator(FinishReason.Length));

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync(Hi))
        {
            updates.Add(update);
        }

        var combined = updates.ToChatResponse();
        Assert.Multiple(() =>
        {
            Assert.That(updates.Select(u => u.Text), Is.EqualTo(new[] { "Hel", "lo", " world" }), "empty token texts are not sent");
            Assert.That(updates.Take(2).Select(u => u.FinishReason), Is.All.Null);
            Assert.That(updates[^1].FinishReason, Is.EqualTo(ChatFinishReason.Length));
            Assert.That(updates[^1].Contents.OfType<UsageContent>().Single().Details.TotalTokenCount, Is.EqualTo(7));
            Assert.That(updates.Select(u => u.ResponseId).Distinct().Count(), Is.EqualTo(1));
            Assert.That(updates.Select(u => u.ModelId), Is.All.EqualTo("my-model"));
            Assert.That(combined.Text, Is.EqualTo("Hello world"));
            Assert.That(combined.Usage?.OutputTokenCount, Is.EqualTo(4));
        });
    }

    [Test]
    public void GetService_returns_itself_its_metadata_and_its_generator()
    {
        var fake = new FakeGenerator();
        using var client = new GptChatClient(fake);

        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Multiple(() =>
        {
            Assert.That(client.GetService<GptChatClient>(), Is.SameAs(client));
            Assert.That(client.GetService<IChatClient>(), Is.SameAs(client));
            Assert.That(metadata?.ProviderName, Is.EqualTo("OnnxGpt"));
            Assert.That(metadata?.DefaultModelId, Is.EqualTo("my-model"));
            Assert.That(client.GetService<IGptGenerator>(), Is.SameAs(fake));
            Assert.That(client.GetService<GptModelInfo>(), Is.SameAs(fake.ModelInfo));
            Assert.That(client.GetService<IChatTemplate>(), Is.InstanceOf<PlainChatTemplate>());
            Assert.That(client.GetService<JsonDocument>(), Is.Null);
            Assert.That(client.GetService(typeof(GptChatClient), "key"), Is.Null);
        });
    }

    [Test]
    public void The_template_and_model_id_can_be_set()
    {
        using var client = new GptChatClient(new FakeGenerator(), new GptChatClientOptions { ChatTemplate = new Llama3ChatTemplate(), TemplateName = "gemma", ModelId = "mine" });
        using var named = new GptChatClient(new FakeGenerator(), new GptChatClientOptions { TemplateName = "gemma" });

        Assert.Multiple(() =>
        {
            Assert.That(client.Template, Is.InstanceOf<Llama3ChatTemplate>());
            Assert.That(client.ModelId, Is.EqualTo("mine"));
            Assert.That(named.Template, Is.InstanceOf<GemmaChatTemplate>());
        });
    }

    [Test]
    public void Cancellation_before_the_start_propagates()
    {
        using var client = new GptChatClient(new FakeGenerator());
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.CatchAsync<OperationCanceledException>(() => client.GetResponseAsync(Hi, cancellationToken: cts.Token));
    }
}
