using OnnxGpt.Generation;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Cli;

/// <summary>A generator of either backend with what the CLI needs beside it, released together.</summary>
internal sealed class LoadedGenerator(IGptGenerator generator, GptTokenizer? tokenizer, IDisposable owner) : IDisposable
{
    public IGptGenerator Generator { get; } = generator;

    public GptTokenizer? Tokenizer { get; } = tokenizer;

    public void Dispose() => owner.Dispose();
}
