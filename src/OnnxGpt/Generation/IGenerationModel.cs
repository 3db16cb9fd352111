using OnnxGpt.Generation.Decoding;
using OnnxGpt.Models;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Generation;

/// <summary>What a sequence being generated needs from the model behind it: a <see cref="Generation.GptModel"/> or a <see cref="GptDecoder"/>.</summary>
internal interface IGenerationModel
{
    GptModelInfo Info { get; }

    GptTokenizer? Tokenizer { get; }

    string ExecutionProvider { get; }

    /// <summary>A text stream of the backend's own tokenizer, when <see cref="Tokenizer"/> is null; else null.</summary>
    ITokenTextStream? CreateTextStream();
}
