using System.Runtime.CompilerServices;
using OnnxGpt.Generation;
using OnnxGpt.Models;

namespace OnnxGpt.Tests.Chat;

/// <summary>A generator that records its requests and streams scripted token texts.</summary>
internal sealed class FakeGenerator : IGptGenerator
{
    private readonly string[] _texts;

    public FakeGenerator(FinishReason finish = FinishReason.Eos, params string[] texts)
    {
        Finish = finish;
        _texts = texts.Length > 0 ? texts : ["Hel", "lo", "", " world"];
    }

    public FinishReason Finish { get; }

    public GptPrompt? LastPrompt { get; private set; }

    /// <summary>Replies for successive calls (the n-th call streams Replies[n]); past the end, the constructor's texts.</summary>
    public List<string[]> Replies { get; } = [];

    /// <summary>Every prompt received, in order.</summary>
    public List<GptPrompt> Prompts { get; } = [];

    public GenerationOptions? LastOptions { get; private set; }

    public GptModelInfo ModelInfo { get; } = new()
    {
        ModelPath = "/models/my-model",
        GraphPath = "/models/my-model/model.onnx",
        GraphFormat = "single graph",
        CacheConvention = KvCacheConvention.None,
        LayerCount = 0,
        KeyValueHeads = 1,
        HeadSize = 1,
        CacheElementType = "float32",
        ContextLength = 64,
        VocabularySize = 10,
        EosTokenIds = [0],
        HasPositionIds = false,
        Defaults = GenerationDefaults.None,
    };

    public async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        LastPrompt = prompt;
        LastOptions = options;
        var texts = Prompts.Count < Replies.Count ? Replies[Prompts.Count] : _texts;
        Prompts.Add(prompt);
        options?.Validate();
        for (var i = 0; i < texts.Length; i++)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            GenerationResult? result = i == texts.Length - 1
                ? new GenerationResult
                {
                    Text = string.Concat(texts),
                    PromptTokenIds = [1, 2, 3],
                    TokenIds = [.. Enumerable.Range(5, texts.Length)],
                    FinishReason = Finish,
                    ExecutionProvider = "Fake",
                    TimeToFirstToken = TimeSpan.Zero,
                    TotalTime = TimeSpan.Zero,
                }
                : null;
            yield return new GeneratedToken(5 + i, texts[i], i, result);
        }
    }
}
