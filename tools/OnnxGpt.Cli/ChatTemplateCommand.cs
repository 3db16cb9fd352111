using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OnnxGpt.Chat;

namespace OnnxGpt.Cli;

/// <summary>
/// <c>onnxgpt chat-template</c>: prints the prompt the model's chat template renders for OpenAI-style messages and
/// tools, as the chat client sends it; <c>--json</c> adds the token ids the model receives (for the folder's own
/// Jinja template: the text tokenized without adding special tokens, as <c>apply_chat_template(tokenize=True)</c>).
/// </summary>
internal static class ChatTemplateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var variant = CommonOptions.Variant();
        var messages = new Option<FileInfo>("--messages") { Description = "A JSON file: an array of OpenAI-style messages (role, content, tool_calls, tool_call_id).", Required = true };
        var tools = new Option<FileInfo?>("--tools") { Description = "A JSON file: an array of OpenAI-style tools ({\"type\": \"function\", \"function\": {name, description, parameters}})." };
        var noGenerationPrompt = new Option<bool>("--no-generation-prompt") { Description = "End after the last message, without opening an assistant turn." };
        var json = CommonOptions.Json();
        var command = new Command("chat-template", "Print the prompt the model's chat template renders for a conversation (and its token ids with --json).")
        {
            model, variant, messages, tools, noGenerationPrompt, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var conversation = OpenAiChatJson.ReadMessages(Read(r.GetValue(messages)!));
            var options = r.GetValue(tools) is { } toolsFile ? new ChatOptions { Tools = OpenAiChatJson.ReadTools(Read(toolsFile)) } : null;
            var folder = string.IsNullOrWhiteSpace(r.GetValue(model)) ? CommonOptions.DefaultModelPath : r.GetValue(model)!;
            var template = ChatTemplates.ForModelDirectory(folder);
            var text = template is JinjaChatTemplate jinja
                ? jinja.Format(conversation, !r.GetValue(noGenerationPrompt), options?.Tools, null)
                : options?.Tools is { Count: > 0 }
                    ? throw new CliUsageException($"The model at '{folder}' ships no chat template, and the built-in '{template.Name}' one has no place for tools.")
                    : template.Format(conversation, !r.GetValue(noGenerationPrompt));
            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                // The ids the model receives: a Jinja template's text holds its special tokens; a built-in one leaves bos to the tokenizer.
                using var loggerFactory = ModelLoader.CreateLoggerFactory(r.GetValue(CommonOptions.Verbose), r.InvocationConfiguration.Error);
                using var loaded = ModelLoader.Load(folder, r.GetValue(variant), executionProviders: null, loggerFactory);
                var ids = loaded.Tokenizer is { } tokenizer
                    ? tokenizer.Encode(text, addSpecialTokens: template is not JinjaChatTemplate)
                    : throw new CliUsageException($"The model at '{folder}' has no tokenizer, so --json cannot list the ids; leave it out to print the text.");
                await stdout.WriteLineAsync(JsonSerializer.Serialize(new ChatTemplateJson(text, ids), CliJsonContext.Output.ChatTemplateJson));
            }
            else
            {
                await stdout.WriteAsync(text);
            }

            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }

    private static JsonDocument Read(FileInfo file)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllText(file.FullName));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CliUsageException($"Cannot read '{file.FullName}': {ex.Message}");
        }
        catch (JsonException ex)
        {
            throw new CliUsageException($"'{file.FullName}' is not valid JSON: {ex.Message}");
        }
    }
}
