using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;
using OnnxGpt.Models;
using OnnxGpt.Tokenization.TokenizerJson;

namespace OnnxGpt.Tokenization;

/// <summary>
/// Turns text into the token ids a model was trained on and back, using the tokenizer files that ship
/// with the model: Hugging Face's <c>tokenizer.json</c> (every current family: its normalizer, pre-tokenizer,
/// BPE model, added tokens, post-processor and decoder, with the Rust library's results), else a byte-level BPE
/// (<c>vocab.json</c> + <c>merges.txt</c>, as GPT-2), a SentencePiece BPE (<c>tokenizer.model</c>, as Llama 2), or
/// GPT-2's built-in tiktoken data.
/// </summary>
public sealed partial class GptTokenizer
{
    /// <summary>GPT-2's end-of-text token, the only special token GPT-2's byte-level BPE knows.</summary>
    private const string EndOfTextToken = "<|endoftext|>";

    private const string VocabFileName = "vocab.json";
    private const string MergesFileName = "merges.txt";
    private const string SentencePieceFileName = "tokenizer.model";

    private readonly Lazy<Tokenizer> _innerTokenizer;
    private readonly byte[]?[]? _tokenBytes;
    private string?[]? _pieces;

    private GptTokenizer(Tokenizer innerTokenizer, string kind, int? bosTokenId, bool addsBosToken)
        : this(new Lazy<Tokenizer>(() => innerTokenizer), kind, bosTokenId, addsBosToken)
    {
    }

    private GptTokenizer(Lazy<Tokenizer> innerTokenizer, string kind, int? bosTokenId, bool addsBosToken, byte[]?[]? tokenBytes = null, TokenizerJsonPipeline? pipeline = null)
    {
        _tokenBytes = tokenBytes;
        _innerTokenizer = innerTokenizer;
        Kind = kind;
        BosTokenId = bosTokenId;
        AddsBosToken = addsBosToken;
        Pipeline = pipeline;
        Description = pipeline?.Description ?? new TokenizerDescription
        {
            Model = kind,
            Normalizer = "none",
            PreTokenizer = "none",
            PostProcessor = addsBosToken ? "bos" : "none",
            Decoder = "none",
            AddedTokenCount = 0,
        };
    }

    /// <summary>The tokenizer.json pipeline, when the tokenizer was loaded from one.</summary>
    internal TokenizerJsonPipeline? Pipeline { get; }

    /// <summary>What each id adds to streamed text (tokenizer.json tokenizers whose decoder streams token by token), else null.</summary>
    internal StreamPiece[]? StreamPieces => Pipeline?.StreamPieces;

    /// <summary>What the tokenizer is made of (for a tokenizer.json: model, normalizer, pre-tokenizer, post-processor, decoder).</summary>
    public TokenizerDescription Description { get; }

    /// <summary>
    /// The number of token ids, added tokens included (the largest id + 1), for a tokenizer.json tokenizer; null for the
    /// older formats. Generation never produces an id at or above it, even where the graph's logits are wider.
    /// </summary>
    public int? VocabularySize => Pipeline?.VocabularySize;

    /// <summary>The end-of-sequence token id named by tokenizer_config.json (<c>eos_token</c>), when known.</summary>
    public int? EosTokenId { get; private init; }

    /// <summary>The padding token id named by tokenizer_config.json (<c>pad_token</c>), when known.</summary>
    public int? PadTokenId { get; private init; }

    /// <summary>The unknown token id named by tokenizer_config.json (<c>unk_token</c>), when known.</summary>
    public int? UnknownTokenId { get; private init; }

    /// <summary>The longest input the tokenizer is meant for (tokenizer_config.json <c>model_max_length</c>), when it gives a real one.</summary>
    public int? ModelMaxLength { get; private init; }

    /// <summary>
    /// For byte-level BPE, each token's bytes by id (null for ids the vocabulary lacks): decoding is then the
    /// concatenation of these bytes, which lets streaming decode one token at a time without decoding any window.
    /// Null for other tokenizers.
    /// </summary>
    internal byte[]?[]? TokenBytes => Pipeline?.TokenBytes ?? _tokenBytes;

    /// <summary>
    /// The Microsoft.ML.Tokenizers tokenizer that does the work; for a tokenizer.json, a <see cref="BpeTokenizer"/> of its
    /// BPE model alone (the added tokens, normalizer, pre-tokenizer, post-processor and decoder run around it in
    /// <see cref="Encode(string, bool)"/> and <see cref="Decode"/>). For a SentencePiece-style tokenizer.json (not
    /// byte-level, as Gemma and Mistral) OnnxGpt merges with its own BPE, and this one is built on first use, without
    /// byte fallback; use <see cref="Encode(string, bool)"/> for the model's ids.
    /// </summary>
    public Tokenizer InnerTokenizer => _innerTokenizer.Value;

    /// <summary>
    /// A short human-readable description of the tokenizer, for example
    /// "byte-level BPE (vocab.json + merges.txt)".
    /// </summary>
    public string Kind { get; }

    /// <summary>The beginning-of-sequence token id, when the model has one.</summary>
    public int? BosTokenId { get; }

    /// <summary>Whether <see cref="Encode(string)"/> starts its result with <see cref="BosTokenId"/>.</summary>
    public bool AddsBosToken { get; }

    /// <summary>
    /// Encodes text into token ids with the special tokens the tokenizer adds around a text, as Hugging Face's
    /// <c>tokenizer(text)</c> does (see <see cref="Encode(string, bool)"/>).
    /// </summary>
    /// <param name="text">The text to encode.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="text"/> contains an unpaired UTF-16 surrogate.</exception>
    public IReadOnlyList<int> Encode(string text) => Encode(text, addSpecialTokens: true);

    /// <summary>
    /// Encodes text into token ids, as Hugging Face's <c>tokenizer(text, add_special_tokens=...)</c> does: with
    /// <paramref name="addSpecialTokens"/> the special tokens the tokenizer adds around a text (its post-processor's, for
    /// example a beginning-of-sequence token) are included; without it only the text's own tokens are returned, which is
    /// how a rendered chat template is tokenized.
    /// </summary>
    /// <param name="text">The text to encode.</param>
    /// <param name="addSpecialTokens">Whether to add the tokenizer's special tokens around the text.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="text"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="text"/> contains an unpaired UTF-16 surrogate.</exception>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        ThrowIfInvalidUtf16(text);
        if (Pipeline is not null)
        {
            return Pipeline.Encode(text, addSpecialTokens);
        }

        IReadOnlyList<int> ids = InnerTokenizer.EncodeToIds(text);
        if (!addSpecialTokens || !AddsBosToken || BosTokenId is not int bos)
        {
            return ids;
        }

        var result = new int[ids.Count + 1];
        result[0] = bos;
        for (var i = 0; i < ids.Count; i++)
        {
            result[i + 1] = ids[i];
        }

        return result;
    }

    /// <summary>
    /// Decodes token ids into text. Every token is decoded; the SentencePiece beginning-of-sequence
    /// marker (<c>&lt;s&gt;</c>) produces no text, while GPT-2's <c>&lt;|endoftext|&gt;</c> decodes to its text.
    /// Ids outside the vocabulary produce no text. A sequence that ends in the middle of a UTF-8
    /// character ends in U+FFFD.
    /// </summary>
    /// <param name="ids">The token ids.</param>
    /// <returns>The decoded text.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="ids"/> is null.</exception>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Pipeline?.Decode(ids) ?? InnerTokenizer.Decode(ids);
    }

    /// <summary>
    /// The vocabulary piece of a token id, as Hugging Face's <c>convert_ids_to_tokens</c> gives it: for example
    /// <c>Ġworld</c> (byte-level BPE), <c>▁the</c> (SentencePiece) or <c>&lt;|im_start|&gt;</c> (an added token), not the
    /// text the id decodes to (use <see cref="Decode"/> for that).
    /// </summary>
    /// <param name="id">The token id.</param>
    /// <returns>The piece, or null when the id is no token of the vocabulary (or the tokenizer is GPT-2's built-in tiktoken data, which keeps no pieces).</returns>
    public string? IdToToken(int id)
    {
        if (Pipeline is not null)
        {
            return Pipeline.TokenOf(id);
        }

        var pieces = _pieces ??= InnerTokenizer switch
        {
            BpeTokenizer bpe => Reverse(bpe.Vocabulary),
            SentencePieceTokenizer sentencePiece => Reverse(sentencePiece.Vocabulary),
            _ => [],
        };
        return (uint)id < (uint)pieces.Length ? pieces[id] : null;
    }

    private static string?[] Reverse(IReadOnlyDictionary<string, int> vocabulary)
    {
        var pieces = new string?[vocabulary.Count == 0 ? 0 : vocabulary.Values.Max() + 1];
        foreach (var (piece, id) in vocabulary)
        {
            if (id >= 0)
            {
                pieces[id] = piece;
            }
        }

        return pieces;
    }

    /// <summary>
    /// Loads the tokenizer of the model in <paramref name="modelDirectory"/>, choosing, in order: <c>tokenizer.json</c>,
    /// <c>vocab.json</c> + <c>merges.txt</c> (byte-level BPE), <c>tokenizer.model</c> (SentencePiece),
    /// or GPT-2's built-in data when the model type is "gpt2".
    /// </summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <param name="settings">What the model configuration says about tokenization.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ModelLoadException">No tokenizer can be found, or a tokenizer file cannot be read.</exception>
    public static GptTokenizer Load(string modelDirectory, TokenizerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        ArgumentNullException.ThrowIfNull(settings);

        var vocabPath = Path.Combine(modelDirectory, VocabFileName);
        var mergesPath = Path.Combine(modelDirectory, MergesFileName);
        var sentencePiecePath = Path.Combine(modelDirectory, SentencePieceFileName);
        var jsonPath = Path.Combine(modelDirectory, TokenizerJsonLoader.FileName);

        if (File.Exists(jsonPath))
        {
            return LoadTokenizerJson(modelDirectory, jsonPath, settings);
        }

        if (File.Exists(vocabPath) && File.Exists(mergesPath))
        {
            return LoadByteLevelBpe(modelDirectory, vocabPath, mergesPath, settings);
        }

        if (File.Exists(sentencePiecePath))
        {
            return LoadSentencePiece(modelDirectory, sentencePiecePath, settings);
        }

        if (string.Equals(settings.ModelType, "gpt2", StringComparison.OrdinalIgnoreCase))
        {
            Tokenizer tiktoken = TiktokenTokenizer.CreateForModel("gpt2");
            return new GptTokenizer(tiktoken, "GPT-2 tiktoken (built-in)", settings.BosTokenId, AddsBos(settings, settings.BosTokenId));
        }

        var found = File.Exists(vocabPath) ? $" ({VocabFileName} was found without {MergesFileName})"
            : File.Exists(mergesPath) ? $" ({MergesFileName} was found without {VocabFileName})"
            : string.Empty;
        throw new ModelLoadException(
            modelDirectory,
            $"no tokenizer files found{found}: expected {VocabFileName} + {MergesFileName} (byte-level BPE) or {SentencePieceFileName} (SentencePiece), "
            + "and the model type is not \"gpt2\". Pass prompt token ids instead of text, or add the tokenizer files to the model folder.");
    }

    /// <summary>
    /// Loads the tokenizer of the model folder <paramref name="modelDirectory"/> without its graph, as
    /// loading the model would: <c>tokenizer.json</c> first, then the older formats.
    /// </summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="ModelLoadException">The folder has no tokenizer files, or they cannot be read.</exception>
    public static GptTokenizer Load(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        var config = ModelConfiguration.Read(modelDirectory);
        var hasBpe = File.Exists(Path.Combine(modelDirectory, VocabFileName)) && File.Exists(Path.Combine(modelDirectory, MergesFileName));
        var addBos = config.AddBosToken ?? (!hasBpe && File.Exists(Path.Combine(modelDirectory, SentencePieceFileName)));
        return Load(modelDirectory, new TokenizerSettings(config.ModelType, config.BosTokenId, addBos));
    }

    /// <summary>Whether <paramref name="modelDirectory"/> holds a tokenizer file this class reads (without the built-in GPT-2 data).</summary>
    internal static bool HasTokenizerFiles(string modelDirectory) =>
        File.Exists(Path.Combine(modelDirectory, TokenizerJsonLoader.FileName))
        || (File.Exists(Path.Combine(modelDirectory, VocabFileName)) && File.Exists(Path.Combine(modelDirectory, MergesFileName)))
        || File.Exists(Path.Combine(modelDirectory, SentencePieceFileName));

    private static GptTokenizer LoadTokenizerJson(string modelDirectory, string jsonPath, TokenizerSettings settings)
    {
        var pipeline = TokenizerJsonLoader.Load(jsonPath, modelDirectory);
        var config = TokenizerConfigFile.Read(modelDirectory, modelDirectory);
        int? Id(string? token, string setting)
        {
            if (token is null)
            {
                return null;
            }

            return pipeline.IdOf(token) ?? throw new ModelLoadException(
                modelDirectory,
                $"{TokenizerConfigFile.FileName} names '{token}' as {setting}, but {TokenizerJsonLoader.FileName} has no such token. Fix {setting} or use the tokenizer files of the same model.");
        }

        var bos = Id(config.BosToken, "bos_token") ?? settings.BosTokenId;
        var withSpecials = pipeline.Encode(string.Empty, addSpecialTokens: true);
        var addsBos = bos is int b && withSpecials.Count > 0 && withSpecials[0] == b;
        return new GptTokenizer(new Lazy<Tokenizer>(() => pipeline.Model.Inner), $"tokenizer.json ({pipeline.Description.Model})", bos, addsBos, null, pipeline)
        {
            EosTokenId = Id(config.EosToken, "eos_token"),
            PadTokenId = Id(config.PadToken, "pad_token"),
            UnknownTokenId = Id(config.UnknownToken, "unk_token"),
            ModelMaxLength = config.ModelMaxLength,
        };
    }

    private static GptTokenizer LoadByteLevelBpe(string modelDirectory, string vocabPath, string mergesPath, TokenizerSettings settings)
    {
        Dictionary<string, int> vocabulary;
        try
        {
            using var stream = File.OpenRead(vocabPath);
            vocabulary = JsonSerializer.Deserialize<Dictionary<string, int>>(stream)
                ?? throw new JsonException("The file holds 'null' instead of an object.");
        }
        catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw new ModelLoadException(
                modelDirectory,
                $"{VocabFileName} cannot be read as a JSON object that maps each token to its integer id: {ex.Message}",
                ex);
        }

        List<string> merges;
        try
        {
            merges = [];
            foreach (var line in File.ReadLines(mergesPath))
            {
                if (line.Length == 0 || (merges.Count == 0 && line.StartsWith("#version", StringComparison.Ordinal)))
                {
                    continue;
                }

                merges.Add(line);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(modelDirectory, $"{MergesFileName} cannot be read: {ex.Message}", ex);
        }

        Dictionary<string, int> specialTokens = [];
        if (vocabulary.TryGetValue(EndOfTextToken, out var endOfTextId))
        {
            specialTokens.Add(EndOfTextToken, endOfTextId);
        }

        Tokenizer tokenizer;
        try
        {
            tokenizer = BpeTokenizer.Create(new BpeOptions(vocabulary)
            {
                Merges = merges,
                ByteLevel = true,
                PreTokenizer = new RegexPreTokenizer(Gpt2PreTokenizerRegex(), specialTokens.Count > 0 ? specialTokens : null),
                SpecialTokens = specialTokens.Count > 0 ? specialTokens : null,
            });
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or KeyNotFoundException)
        {
            throw new ModelLoadException(
                modelDirectory,
                $"{MergesFileName} does not hold BPE merges (one 'left right' pair per line) that fit {VocabFileName}: {ex.Message}",
                ex);
        }

        return new GptTokenizer(new Lazy<Tokenizer>(tokenizer), $"byte-level BPE ({VocabFileName} + {MergesFileName})", settings.BosTokenId, AddsBos(settings, settings.BosTokenId), ByteLevelTokenBytes(vocabulary, specialTokens));
    }

    private static GptTokenizer LoadSentencePiece(string modelDirectory, string sentencePiecePath, TokenizerSettings settings)
    {
        LlamaTokenizer tokenizer;
        try
        {
            using var stream = File.OpenRead(sentencePiecePath);
            tokenizer = LlamaTokenizer.Create(stream, addBeginOfSentence: false, addEndOfSentence: false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The SentencePiece model is a protobuf; a corrupt one fails with the protobuf library's own exception types.
            throw new ModelLoadException(
                modelDirectory,
                $"{SentencePieceFileName} cannot be read as a SentencePiece BPE model: {ex.Message}",
                ex);
        }

        var bos = settings.BosTokenId ?? tokenizer.BeginningOfSentenceId;
        return new GptTokenizer(tokenizer, $"SentencePiece BPE ({SentencePieceFileName})", bos, AddsBos(settings, bos));
    }

    /// <summary>
    /// Maps each byte-level token back to its bytes through GPT-2's byte-to-character table (special tokens are their
    /// own UTF-8 text). Returns null when a token has a character outside the table: such a vocabulary is not byte-level.
    /// </summary>
    private static byte[]?[]? ByteLevelTokenBytes(Dictionary<string, int> vocabulary, Dictionary<string, int> specialTokens)
    {
        var byteOf = new Dictionary<char, byte>(256);
        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            byteOf[(char)(printable ? b : 256 + next++)] = (byte)b;
        }

        var maxId = vocabulary.Count == 0 ? -1 : vocabulary.Values.Max();
        if (maxId < 0 || maxId > 10_000_000)
        {
            return null;
        }

        var table = new byte[]?[maxId + 1];
        foreach (var (token, id) in vocabulary)
        {
            if (id < 0)
            {
                continue;
            }

            if (specialTokens.ContainsKey(token))
            {
                table[id] = System.Text.Encoding.UTF8.GetBytes(token);
                continue;
            }

            var bytes = new byte[token.Length];
            for (var i = 0; i < token.Length; i++)
            {
                if (!byteOf.TryGetValue(token[i], out bytes[i]))
                {
                    return null;
                }
            }

            table[id] = bytes;
        }

        return table;
    }

    private static bool AddsBos(TokenizerSettings settings, int? bosTokenId) => settings.AddBosToken && bosTokenId.HasValue;

    private static void ThrowIfInvalidUtf16(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (!char.IsSurrogate(c))
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
                continue;
            }

            throw new ArgumentException(
                $"The text holds an unpaired UTF-16 surrogate (U+{(int)c:X4}) at index {i}, which is not valid Unicode and cannot be tokenized.",
                nameof(text));
        }
    }

    /// <summary>GPT-2's pre-tokenizer pattern, as in Hugging Face's byte-level BPE.</summary>
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+", RegexOptions.None)]
    private static partial Regex Gpt2PreTokenizerRegex();
}
