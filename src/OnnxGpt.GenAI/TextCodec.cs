using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Tokenization;

namespace OnnxGpt.GenAI;

/// <summary>Turns prompt text into ids and streamed ids into text, for one generator.</summary>
internal interface ITextCodec : IDisposable
{
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true);

    /// <summary>A decoder for one request's output.</summary>
    ITokenTextStream CreateStream();
}

/// <summary>Decodes one request's ids into text fragments, never splitting a character.</summary>
internal interface ITokenTextStream : IDisposable
{
    string Append(int tokenId);

    string Flush();
}

/// <summary>OnnxGpt's tokenizer and its UTF-8-safe <see cref="StreamingDetokenizer"/>: ids identical to the core backend's.</summary>
internal sealed class OnnxGptTextCodec(GptTokenizer tokenizer) : ITextCodec
{
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true) => tokenizer.Encode(text, addSpecialTokens);

    public ITokenTextStream CreateStream() => new Stream(new StreamingDetokenizer(tokenizer));

    public void Dispose()
    {
    }

    private sealed class Stream(StreamingDetokenizer detokenizer) : ITokenTextStream
    {
        public string Append(int tokenId) => detokenizer.Append(tokenId);

        public string Flush() => detokenizer.Flush();

        public void Dispose()
        {
        }
    }
}

/// <summary>
/// onnxruntime-genai's own tokenizer (<c>tokenizer.json</c>), for folders that have no tokenizer OnnxGpt reads;
/// its <see cref="TokenizerStream"/> holds back partial characters itself.
/// </summary>
internal sealed class GenAITextCodec(Tokenizer tokenizer) : ITextCodec
{
    /// <remarks>onnxruntime-genai's tokenizer has no switch for special tokens; it encodes as its configuration says.</remarks>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = true)
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
