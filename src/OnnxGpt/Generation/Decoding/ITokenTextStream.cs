namespace OnnxGpt.Generation.Decoding;

/// <summary>
/// For backend authors: turns one request's generated ids into text fragments without splitting a character, for a
/// <see cref="GptDecoder"/> whose model has no <see cref="Tokenization.GptTokenizer"/> (the backend's own tokenizer
/// decodes instead).
/// </summary>
public interface ITokenTextStream : IDisposable
{
    /// <summary>Adds a generated id and returns the text it completes (empty while a character is incomplete).</summary>
    /// <param name="tokenId">The id.</param>
    /// <returns>The text ready to stream.</returns>
    string Append(int tokenId);

    /// <summary>Returns what is held back at the end of the output.</summary>
    /// <returns>The remaining text.</returns>
    string Flush();
}
