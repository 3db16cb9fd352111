using Microsoft.Extensions.AI;
using OnnxGpt.Chat;

namespace OnnxGpt.Tests.Chat;

[TestFixture]
public sealed class ChatTemplateTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Hi!"),
        new(ChatRole.Assistant, "Hello."),
        new(ChatRole.User, "Tell me a joke."),
    ];

    [Test]
    public void ChatML() => Assert.That(
        new ChatMLTemplate().Format(Conversation, addGenerationPrompt: true),
        Is.EqualTo("<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nTell me a joke.<|im_end|>\n<|im_start|>assistant\n"));

    [Test]
    public void Llama2() => Assert.That(
        new Llama2ChatTemplate().Format(Conversation, addGenerationPrompt: true),
        Is.EqualTo("[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi! [/INST] Hello. </s><s>[INST] Tell me a joke. [/INST]"));

    [Test]
    public void Llama3() => Assert.That(
        new Llama3ChatTemplate().Format(Conversation, addGenerationPrompt: true),
        Is.EqualTo("<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"));

    [Test]
    public void Phi3() => Assert.That(
        new Phi3ChatTemplate().Format(Conversation, addGenerationPrompt: true),
        Is.EqualTo("<|system|>\nYou are terse.<|end|>\n<|user|>\nHi!<|end|>\n<|assistant|>\nHello.<|end|>\n<|user|>\nTell me a joke.<|end|>\n<|assistant|>\n"));

    [Test]
    public void Gemma() => Assert.That(
        new GemmaChatTemplate().Format(Conversation, addGenerationPrompt: true),
        Is.EqualTo("<start_of_turn>user\nYou are terse.\n\nHi!<end_of_turn>\n<start_of_turn>model\nHello.<end_of_turn>\n<start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n"));

    [Test]
    public void Mistral() => Assert.That(
        new MistralChatTemplate().Format(Conversation, addGenerationPrompt: true),
        Is.EqualTo("[INST] Hi![/INST] Hello.</s>[INST] You are terse.\n\nTell me a joke.[/INST]"));

    [Test]
    public void Plain() => Assert.That(
        new PlainChatTemplate().Format(Conversation, addGenerationPrompt: true),
        Is.EqualTo("System: You are terse.\nUser: Hi!\nAssistant: Hello.\nUser: Tell me a joke.\nAssistant:"));

    [Test]
    public void Plain_single_user_message_matches_the_documented_example() => Assert.That(
        new PlainChatTemplate().Format([new ChatMessage(ChatRole.User, "hi")], addGenerationPrompt: true),
        Is.EqualTo("User: hi\nAssistant:"));

    [Test]
    public void Without_a_generation_prompt_the_conversation_ends_after_the_last_message()
    {
        ChatMessage[] one = [new(ChatRole.User, "Hi!")];
        Assert.Multiple(() =>
        {
            Assert.That(new ChatMLTemplate().Format(one, false), Is.EqualTo("<|im_start|>user\nHi!<|im_end|>\n"));
            Assert.That(new Llama3ChatTemplate().Format(one, false), Is.EqualTo("<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"));
            Assert.That(new Phi3ChatTemplate().Format(one, false), Is.EqualTo("<|user|>\nHi!<|end|>\n<|endoftext|>"));
            Assert.That(new GemmaChatTemplate().Format(one, false), Is.EqualTo("<start_of_turn>user\nHi!<end_of_turn>\n"));
            Assert.That(new PlainChatTemplate().Format(one, false), Is.EqualTo("User: Hi!\n"));
        });
    }

    [Test]
    public void Each_template_names_the_text_that_ends_its_turn()
    {
        Assert.Multiple(() =>
        {
            Assert.That(new ChatMLTemplate().StopSequences, Is.EqualTo(new[] { "<|im_end|>" }));
            Assert.That(new Llama2ChatTemplate().StopSequences, Is.EqualTo(new[] { "</s>" }));
            Assert.That(new Llama3ChatTemplate().StopSequences, Is.EqualTo(new[] { "<|eot_id|>" }));
            Assert.That(new Phi3ChatTemplate().StopSequences, Is.EqualTo(new[] { "<|end|>" }));
            Assert.That(new GemmaChatTemplate().StopSequences, Is.EqualTo(new[] { "<end_of_turn>" }));
            Assert.That(new MistralChatTemplate().StopSequences, Is.EqualTo(new[] { "</s>" }));
            Assert.That(new PlainChatTemplate().StopSequences, Is.EqualTo(new[] { "\nUser:" }));
        });
    }

    [Test]
    public void Templates_with_one_system_prompt_refuse_a_system_message_later_in_the_conversation()
    {
        ChatMessage[] late = [new(ChatRole.User, "Hi!"), new(ChatRole.System, "Be nice.")];
        var ex = Assert.Throws<NotSupportedException>(() => new Llama2ChatTemplate().Format(late, true));
        Assert.That(ex!.Message, Does.Contain("system messages only at the start"));
        Assert.Throws<NotSupportedException>(() => new Phi3ChatTemplate().Format([new ChatMessage(ChatRole.Tool, "42")], true));
    }

    [TestCase("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}", "chatml")]
    [TestCase("{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set content = '<<SYS>>\\n' + messages[0]['content'] %}{% endif %}{{ '[INST] ' + content + ' [/INST]' }}", "llama2")]
    [TestCase("{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' %}", "llama3")]
    [TestCase("{% for message in messages %}{{'<|user|>\\n' + message['content'] + '<|end|>\\n'}}{% endfor %}", "phi3")]
    [TestCase("{{ bos_token }}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}", "gemma")]
    [TestCase("{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endfor %}", "mistral")]
    public void Recognizes_a_jinja_template_by_its_markers(string jinja, string expected) =>
        Assert.That(ChatTemplates.Recognize(jinja)?.Name, Is.EqualTo(expected));

    [Test]
    public void Does_not_recognize_an_unknown_template() =>
        Assert.That(ChatTemplates.Recognize("{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}"), Is.Null);

    [Test]
    public void Reads_the_template_from_a_model_folder()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.File("tokenizer_config.json"), """{ "bos_token": "<s>", "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] }}{% endfor %}" }""");
        var chatml = (JinjaChatTemplate)ChatTemplates.FromModelDirectory(folder.Path)!;
        Assert.Multiple(() =>
        {
            Assert.That(chatml.Format([new(ChatRole.User, "x")], addGenerationPrompt: false), Is.EqualTo("<|im_start|>user"));
            Assert.That(chatml.StopSequences, Is.EqualTo(new[] { "<|im_end|>" }));
            Assert.That(chatml.ToolUseTemplate, Is.Null);
        });

        File.WriteAllText(folder.File("tokenizer_config.json"), """{ "bos_token": {"content": "<bos>"}, "chat_template": [ { "name": "tool_use", "template": "tools:{{ tools|length }}" }, { "name": "default", "template": "{{ bos_token }}<start_of_turn>" } ] }""");
        var named = (JinjaChatTemplate)ChatTemplates.FromModelDirectory(folder.Path)!;
        Assert.Multiple(() =>
        {
            Assert.That(named.Format([new(ChatRole.User, "x")], addGenerationPrompt: true), Is.EqualTo("<bos><start_of_turn>"));
            Assert.That(named.Format([new(ChatRole.User, "x")], true, [AIFunctionFactory.Create(() => 1, "one")], null), Is.EqualTo("tools:1"));
        });

        File.WriteAllText(folder.File("tokenizer_config.json"), "{}");
        File.WriteAllText(folder.File("chat_template.jinja"), "{{ '<|start_header_id|>' }}\n");
        Assert.That(ChatTemplates.FromModelDirectory(folder.Path)!.Format([new(ChatRole.User, "x")], true), Is.EqualTo("<|start_header_id|>"));
    }

    [Test]
    public void A_template_the_engine_cannot_parse_fails_at_load_naming_file_line_and_construct()
    {
        using var folder = new TempDirectory();
        File.WriteAllText(folder.File("tokenizer_config.json"), """{ "chat_template": "{% for m in messages %}\n{% include 'x' %}{% endfor %}" }""");
        var ex = Assert.Throws<ModelLoadException>(() => ChatTemplates.FromModelDirectory(folder.Path));
        Assert.That(ex!.Message, Does.Contain("tokenizer_config.json").And.Contain("line 2, column 4: the 'include' statement is not supported"));
    }

    [Test]
    public void The_embedded_base_model_has_no_template_and_gets_the_plain_one()
    {
        Assert.Multiple(() =>
        {
            Assert.That(ChatTemplates.FromModelDirectory(TestPaths.TinyShakespeare), Is.Null);
            Assert.That(ChatTemplates.ForModelDirectory(TestPaths.TinyShakespeare), Is.InstanceOf<PlainChatTemplate>());
        });
    }

    [TestCase("ChatML", typeof(ChatMLTemplate))]
    [TestCase("llama-2", typeof(Llama2ChatTemplate))]
    [TestCase("llama_3", typeof(Llama3ChatTemplate))]
    [TestCase("phi3", typeof(Phi3ChatTemplate))]
    [TestCase("gemma", typeof(GemmaChatTemplate))]
    [TestCase("mistral", typeof(MistralChatTemplate))]
    [TestCase("plain", typeof(PlainChatTemplate))]
    public void Finds_a_template_by_name(string name, Type expected) =>
        Assert.That(ChatTemplates.FromName(name), Is.InstanceOf(expected));

    [Test]
    public void An_unknown_name_lists_the_known_ones()
    {
        var ex = Assert.Throws<ArgumentException>(() => ChatTemplates.FromName("alpaca"));
        Assert.That(ex!.Message, Does.Contain("chatml, llama2, llama3, phi3, gemma, mistral, plain"));
    }
}
