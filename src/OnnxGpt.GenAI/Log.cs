using Microsoft.Extensions.Logging;

namespace OnnxGpt.GenAI;

/// <summary>OnnxGpt.GenAI's log messages, generated at compile time.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Loaded {ModelPath} with onnxruntime-genai ({ModelType}): context {Context}, vocabulary {Vocabulary}, on {Provider}")]
    public static partial void ModelLoaded(ILogger logger, string modelPath, string modelType, int context, int vocabulary, string provider);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "Execution provider {Provider} cannot run {ModelPath} with onnxruntime-genai: {Reason}. Trying the next one.")]
    public static partial void ProviderFailed(ILogger logger, string provider, string modelPath, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "{ModelPath}: the model's default {Setting} ({Value}) has no onnxruntime-genai equivalent and is not applied by the GenAI backend.")]
    public static partial void ModelDefaultIgnored(ILogger logger, string modelPath, string setting, string value);

    [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "{ModelPath} has no tokenizer files OnnxGpt reads; using onnxruntime-genai's tokenizer (tokenizer.json).")]
    public static partial void UsingGenAITokenizer(ILogger logger, string modelPath);

    [LoggerMessage(EventId = 105, Level = LogLevel.Warning, Message = "onnxruntime-genai cannot rewind a generator of {ModelPath} ({Reason}); conversations (ConversationId) run their whole prompt from now on.")]
    public static partial void RewindFailed(ILogger logger, string modelPath, string reason);

    [LoggerMessage(EventId = 111, Level = LogLevel.Debug, Message = "Conversation continued (onnxruntime-genai): {ReusedTokens} of {PromptTokens} prompt tokens reused from the kept generator")]
    public static partial void ConversationResumed(ILogger logger, int reusedTokens, int promptTokens);

    [LoggerMessage(EventId = 110, Level = LogLevel.Debug, Message = "Generation finished (onnxruntime-genai): {FinishReason}, {PromptTokens} prompt + {GeneratedTokens} generated tokens, {TokensPerSecond:F1} tokens/s")]
    public static partial void GenerationFinished(ILogger logger, string finishReason, int promptTokens, int generatedTokens, double tokensPerSecond);
}
