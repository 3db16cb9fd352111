using Microsoft.Extensions.Logging;

namespace OnnxGpt;

/// <summary>OnnxGpt's log messages, generated at compile time.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Loaded {ModelPath}: {Convention} cache, {Layers} layers, {KvHeads} kv heads of size {HeadSize}, context {Context}, vocabulary {Vocabulary}, on {Provider}")]
    public static partial void ModelLoaded(ILogger logger, string modelPath, string convention, int layers, int kvHeads, int headSize, int context, int vocabulary, string provider);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Execution provider {Provider} cannot run {ModelPath}: {Reason}. Trying the next one.")]
    public static partial void ProviderFailed(ILogger logger, string provider, string modelPath, string reason);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "{ModelPath} has no KV cache: every step recomputes the whole sequence, which is slow. Export the graph with past_key_values for fast generation.")]
    public static partial void NoCache(ILogger logger, string modelPath);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "{ModelPath} has no tokenizer files; prompts must be given as token ids.")]
    public static partial void NoTokenizer(ILogger logger, string modelPath);

    [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "{ModelPath}: {Setting} is {ConfigValue} in the configuration files but {GraphValue} in the graph; the graph wins.")]
    public static partial void ConfigContradictsGraph(ILogger logger, string modelPath, string setting, string configValue, string graphValue);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "{ModelPath} states no context length (config.json max_position_embeddings / n_positions, genai_config.json context_length); generation is bounded only by MaxNewTokens.")]
    public static partial void NoContextLength(ILogger logger, string modelPath);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "{ModelPath}: {Problem}.")]
    public static partial void ConfigIgnored(ILogger logger, string modelPath, string problem);

    [LoggerMessage(EventId = 8, Level = LogLevel.Warning, Message = "{ModelPath} on {Provider}: the KV cache cannot stay in device memory ({Reason}); it is kept in host memory, and ONNX Runtime copies it every step.")]
    public static partial void DeviceCacheUnavailable(ILogger logger, string modelPath, string provider, string reason);

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "{ModelPath}: the per-token loop runs through ONNX Runtime's managed API, not its C API ({Reason}); each step then allocates a few managed objects.")]
    public static partial void NativeRunUnavailable(ILogger logger, string modelPath, string reason);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "Generation finished: {FinishReason}, {PromptTokens} prompt + {GeneratedTokens} generated tokens, {TokensPerSecond:F1} tokens/s")]
    public static partial void GenerationFinished(ILogger logger, string finishReason, int promptTokens, int generatedTokens, double tokensPerSecond);

    [LoggerMessage(EventId = 11, Level = LogLevel.Debug, Message = "{ModelPath}: the graph is loaded as it is ({Reason}).")]
    public static partial void GraphNotRewritten(ILogger logger, string modelPath, string reason);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "{ModelPath}: the graph was rewritten in memory at load ({Passes}).")]
    public static partial void GraphRewritten(ILogger logger, string modelPath, string passes);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "{ModelPath}: conversation '{ConversationId}' could not keep its cache ({Reason}); its next turn runs its whole prompt.")]
    public static partial void ConversationNotKept(ILogger logger, string modelPath, string conversationId, string reason);
}
