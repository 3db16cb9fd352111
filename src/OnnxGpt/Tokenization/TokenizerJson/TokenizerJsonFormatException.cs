namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// A problem in a tokenizer.json, with its JSON path; <see cref="TokenizerJsonLoader.Parse"/> turns it into a
/// <see cref="ModelLoadException"/> that names the model folder.
/// </summary>
/// <param name="message">What is wrong and where.</param>
internal sealed class TokenizerJsonFormatException(string message) : Exception(message);
