using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation.Decoding;

namespace OnnxGpt.GenAI;

/// <summary>
/// onnxruntime-genai's own tokenizer (<c>tokenizer.json</c>), for folders that have no tokenizer OnnxGpt reads;
/// its <see cref="TokenizerStream"/> holds back partial characters itself.
/// </summary>
internal sealed class GenAITextCodec(Tokenizer tokenizer) : IDisposable
{
    /// <remarks>onnxruntime-genai's tokenizer has no switch for special tokens; it encodes as its configuration says.</remarks>
    public IReadOnlyList<int> Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        using var sequences = tokenizer.Encode(text);
        return sequences[0].ToArray();
    }

    public ITokenTextStream CreateStream() => new Stream(tokenizer.CreateStream());

    public void Dispose() => tokenizer.Dispose();

    private sealed class Stream(TokenizerStream stream) : ITokenTextStream
    {
        public string Append(int tokenId) => stream.Decode(tokenId);

        public string Flush() => string.Empty;

        public void Dispose() => stream.Dispose();
    }
}
