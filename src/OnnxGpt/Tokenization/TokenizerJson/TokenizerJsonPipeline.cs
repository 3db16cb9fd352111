using System.Text;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>One token's share of the streamed text: its bytes, or one byte-fallback byte that waits for the rest of its run.</summary>
/// <param name="Bytes">The UTF-8 (or byte-level) bytes the token adds; empty when it adds none.</param>
/// <param name="FallbackByte">The byte of a <c>&lt;0xNN&gt;</c> token under a ByteFallback decoder, else -1.</param>
internal readonly record struct StreamPiece(byte[] Bytes, int FallbackByte);

/// <summary>
/// A whole <c>tokenizer.json</c>: added tokens, normalizer, pre-tokenizer, the BPE model, post-processor and decoder,
/// run in Hugging Face's order. Safe to use from several threads.
/// </summary>
internal sealed class TokenizerJsonPipeline
{
    private readonly AddedTokenMatcher _rawAddedTokens;
    private readonly AddedTokenMatcher? _normalizedAddedTokens;
    private readonly JsonNormalizer? _normalizer;
    private readonly JsonPreTokenizer? _preTokenizer;
    private readonly JsonPostProcessor? _postProcessor;
    private readonly JsonDecoder? _decoder;
    private readonly string?[] _tokens;
    private readonly bool[] _special;
    private readonly Lazy<(byte[]?[] TokenBytes, StreamPiece[]? Pieces)> _tokenBytes;

    internal TokenizerJsonPipeline(
        BpeModel model,
        string?[] tokens,
        IReadOnlyList<AddedToken> addedTokens,
        JsonNormalizer? normalizer,
        JsonPreTokenizer? preTokenizer,
        JsonPostProcessor? postProcessor,
        JsonDecoder? decoder,
        string modelDescription)
    {
        Model = model;
        _tokens = tokens;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _postProcessor = postProcessor;
        _decoder = decoder;
        _special = new bool[tokens.Length];
        foreach (var token in addedTokens)
        {
            _special[token.Id] = token.Special;
        }

        // As the Rust library: tokens marked "normalized" are matched in the normalized text, the others in the raw text.
        _rawAddedTokens = new AddedTokenMatcher(addedTokens.Where(t => !t.Normalized || normalizer is null));
        var normalized = addedTokens.Where(t => t.Normalized && normalizer is not null).ToList();
        _normalizedAddedTokens = normalized.Count > 0 ? new AddedTokenMatcher(normalized, normalizer!.Normalize) : null;
        AddedTokens = addedTokens;
        Description = new TokenizerDescription
        {
            Model = modelDescription,
            Normalizer = normalizer?.Describe() ?? "none",
            PreTokenizer = preTokenizer?.Describe() ?? "none",
            PostProcessor = postProcessor?.Describe() ?? "none",
            Decoder = decoder?.Describe() ?? "none",
            AddedTokenCount = addedTokens.Count,
            VocabularySize = tokens.Length,
        };
        // Built on first use (constraints, streaming): for Gemma 3, 262,144 arrays that loading need not wait for.
        _tokenBytes = new Lazy<(byte[]?[] TokenBytes, StreamPiece[]? Pieces)>(BuildTokenBytes, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The BPE model.</summary>
    public BpeModel Model { get; }

    /// <summary>The added tokens, in file order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens { get; }

    /// <summary>The pipeline's description.</summary>
    public TokenizerDescription Description { get; }

    /// <summary>The number of ids (largest id + 1), added tokens included.</summary>
    public int VocabularySize => _tokens.Length;

    /// <summary>Each id's bytes as they appear in decoded text; null for special tokens and ids that are no token.</summary>
    public byte[]?[] TokenBytes => _tokenBytes.Value.TokenBytes;

    /// <summary>What each id adds to streamed text, when the decoder can be streamed token by token; else null.</summary>
    public StreamPiece[]? StreamPieces => _tokenBytes.Value.Pieces;

    /// <summary>The token string of <paramref name="id"/>, or null.</summary>
    public string? TokenOf(int id) => (uint)id < (uint)_tokens.Length ? _tokens[id] : null;

    /// <summary>Whether <paramref name="id"/> is a special added token.</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)_special.Length && _special[id];

    /// <summary>The id of a token string (vocabulary or added token), or null.</summary>
    public int? IdOf(string token)
    {
        foreach (var added in AddedTokens)
        {
            if (added.Content == token)
            {
                return added.Id;
            }
        }

        return Model.Vocabulary.TryGetValue(token, out var id) ? id : null;
    }

    /// <summary>Encodes as Hugging Face's <c>tokenizer(text, add_special_tokens=...)</c>.</summary>
    public List<int> Encode(string text, bool addSpecialTokens)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        var segments = new List<(int Start, int Length, AddedToken? Token)>();
        _rawAddedTokens.Split(text, segments);
        var pieces = new List<PreToken>();
        var next = new List<PreToken>();
        var scratch = new List<(int Start, int Length)>();
        List<(int Start, int Length, AddedToken? Token)>? inner = null;
        foreach (var (start, length, token) in segments)
        {
            if (token is not null)
            {
                ids.Add(token.Id);
                continue;
            }

            if (length == 0)
            {
                continue;
            }

            var segment = start == 0 && length == text.Length ? text : text.Substring(start, length);
            var normalized = _normalizer?.Normalize(segment) ?? segment;
            if (_normalizedAddedTokens is null)
            {
                EncodeNormalized(normalized, start, ids, pieces, next, scratch);
                continue;
            }

            inner ??= [];
            inner.Clear();
            _normalizedAddedTokens.Split(normalized, inner);
            foreach (var (innerStart, innerLength, innerToken) in inner)
            {
                if (innerToken is not null)
                {
                    ids.Add(innerToken.Id);
                }
                else if (innerLength > 0)
                {
                    EncodeNormalized(normalized.Substring(innerStart, innerLength), start + innerStart, ids, pieces, next, scratch);
                }
            }
        }

        return addSpecialTokens && _postProcessor is not null ? _postProcessor.Process(ids) : ids;
    }

    private void EncodeNormalized(string normalized, int offset, List<int> ids, List<PreToken> pieces, List<PreToken> next, List<(int Start, int Length)> scratch)
    {
        if (_preTokenizer is null)
        {
            Model.Encode(normalized, ids);
            return;
        }

        pieces.Clear();
        next.Clear();
        pieces.Add(new PreToken(normalized, offset));
        _preTokenizer.Apply(pieces, next, scratch);
        foreach (var piece in next)
        {
            Model.Encode(piece.Text, ids);
        }
    }

    /// <summary>Decodes as Hugging Face's <c>decode(ids, skip_special_tokens=...)</c>; ids that are no token are skipped.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        var tokens = new List<string>();
        foreach (var id in ids)
        {
            if (TokenOf(id) is { } token && !(skipSpecialTokens && IsSpecial(id)))
            {
                tokens.Add(token);
            }
        }

        if (_decoder is null)
        {
            return string.Join(' ', tokens);
        }

        _decoder.DecodeChain(tokens);
        return string.Concat(tokens);
    }

    private (byte[]?[] TokenBytes, StreamPiece[]? Pieces) BuildTokenBytes()
    {
        var decoders = _decoder is SequenceDecoder sequence ? sequence.Decoders : _decoder is null ? [] : [_decoder];
        var byteLevel = decoders.Any(d => d is ByteLevelDecoder);
        var byteFallback = decoders.Any(d => d is ByteFallbackDecoder);
        char? replacement = null;
        var streamable = decoders.Count > 0;
        foreach (var decoder in decoders)
        {
            switch (decoder)
            {
                case ByteLevelDecoder or ByteFallbackDecoder or FuseDecoder:
                    break;
                case MetaspaceDecoder metaspace:
                    replacement = metaspace.Replacement;
                    break;
                case ReplaceDecoder { Pattern.Literal: { Length: 1 } literal, Content: " " }:
                    replacement = literal[0];
                    break;
                case StripDecoder { Stop: 0, Content: ' ' }:
                    // Strips the first token's leading space only: text after a prompt keeps it.
                    break;
                default:
                    streamable = false;
                    break;
            }
        }

        if (byteLevel && decoders.Count != 1)
        {
            streamable = false;
        }

        var table = new byte[]?[_tokens.Length];
        var pieces = streamable ? new StreamPiece[_tokens.Length] : null;
        for (var id = 0; id < _tokens.Length; id++)
        {
            var token = _tokens[id];
            if (token is null)
            {
                if (pieces is not null)
                {
                    pieces[id] = new StreamPiece([], -1);
                }

                continue;
            }

            byte[] bytes;
            var fallback = -1;
            if (byteLevel)
            {
                bytes = ByteLevelAlphabet.BytesOf(token) ?? Encoding.UTF8.GetBytes(token);
            }
            else if (byteFallback && ByteFallbackDecoder.TryByte(token, out var b))
            {
                bytes = [b];
                fallback = b;
            }
            else
            {
                bytes = Encoding.UTF8.GetBytes(replacement is { } r ? token.Replace(r, ' ') : token);
            }

            table[id] = IsSpecial(id) ? null : bytes;
            if (pieces is not null)
            {
                pieces[id] = new StreamPiece(bytes, fallback);
            }
        }

        return (table, pieces);
    }
}
