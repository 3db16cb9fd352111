using System.Text;
using Microsoft.ML.Tokenizers;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// tokenizer.json's <c>BPE</c> model. Byte-level vocabularies (GPT-2 style) merge on Microsoft.ML.Tokenizers'
/// <see cref="BpeTokenizer"/>, which merges each pre-tokenized piece exactly as the Rust library does (merge ranks,
/// <c>unk_token</c>, <c>fuse_unk</c>, <c>continuing_subword_prefix</c>, <c>end_of_word_suffix</c>, byte-level
/// mapping); what it lacks is added here: <c>ignore_merges</c> (a piece that is a vocabulary entry is that one token)
/// and <c>byte_fallback</c> (a character outside the vocabulary becomes its UTF-8 bytes as <c>&lt;0xNN&gt;</c> tokens).
/// SentencePiece-style vocabularies (not byte-level) merge on <see cref="SentencePieceBpe"/>, for the reasons given there.
/// </summary>
internal sealed class BpeModel
{
    private readonly Lazy<BpeTokenizer> _bpe;
    private readonly SentencePieceBpe? _merge;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabulary;
    private readonly int[]? _byteIds;
    private readonly int _unknownId;
    private readonly bool _fuseUnknown;
    private readonly bool _ignoreMerges;

    /// <summary>A model that merges with the library's <paramref name="bpe"/> (byte-level vocabularies).</summary>
    public BpeModel(BpeTokenizer bpe, Dictionary<string, int> vocabulary, bool byteLevel, bool ignoreMerges, bool byteFallback, string? unknownToken, bool fuseUnknown)
        : this(new Lazy<BpeTokenizer>(() => bpe), null, vocabulary, byteLevel, ignoreMerges, byteFallback, unknownToken, fuseUnknown)
    {
    }

    /// <summary>A model that merges with <paramref name="merge"/>; the library's tokenizer is built only if <see cref="Inner"/> is read.</summary>
    public BpeModel(SentencePieceBpe merge, Func<BpeTokenizer> createInner, Dictionary<string, int> vocabulary, bool ignoreMerges, bool byteFallback, string? unknownToken, bool fuseUnknown)
        : this(new Lazy<BpeTokenizer>(createInner, LazyThreadSafetyMode.ExecutionAndPublication), merge, vocabulary, byteLevel: false, ignoreMerges, byteFallback, unknownToken, fuseUnknown)
    {
    }

    private BpeModel(Lazy<BpeTokenizer> bpe, SentencePieceBpe? merge, Dictionary<string, int> vocabulary, bool byteLevel, bool ignoreMerges, bool byteFallback, string? unknownToken, bool fuseUnknown)
    {
        _bpe = bpe;
        _merge = merge;
        Vocabulary = vocabulary;
        _vocabulary = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        ByteLevel = byteLevel;
        _ignoreMerges = ignoreMerges;
        _fuseUnknown = fuseUnknown;
        _unknownId = unknownToken is not null && vocabulary.TryGetValue(unknownToken, out var unk) ? unk : -1;
        if (byteFallback)
        {
            _byteIds = new int[256];
            for (var b = 0; b < 256; b++)
            {
                _byteIds[b] = vocabulary.TryGetValue(ByteToken((byte)b), out var id) ? id : -1;
            }
        }
    }

    /// <summary>Whether pieces are mapped to GPT-2's byte characters before merging.</summary>
    public bool ByteLevel { get; }

    /// <summary>OnnxGpt's merge of a SentencePiece-style vocabulary, or null when the library's BPE merges.</summary>
    public SentencePieceBpe? SentencePieceMerge => _merge;

    /// <summary>model.vocab: token -> id.</summary>
    public Dictionary<string, int> Vocabulary { get; }

    /// <summary>
    /// The Microsoft.ML.Tokenizers tokenizer of the vocabulary and merges. For SentencePiece-style vocabularies it is
    /// built on first use and does not merge for <see cref="Encode"/> (it lacks byte fallback).
    /// </summary>
    public BpeTokenizer Inner => _bpe.Value;

    /// <summary>The byte-fallback token of byte <paramref name="b"/>, for example "&lt;0x0A&gt;".</summary>
    public static string ByteToken(byte b) => $"<0x{b:X2}>";

    /// <summary>Adds the ids of one pre-tokenized piece.</summary>
    public void Encode(string piece, List<int> ids)
    {
        if (piece.Length == 0)
        {
            return;
        }

        if (_merge is not null)
        {
            _merge.Encode(piece, ids);
            return;
        }

        var bpe = _bpe.Value;
        if (_ignoreMerges && TryWholePiece(piece, out var whole))
        {
            ids.Add(whole);
            return;
        }

        var merged = bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false);
        if (_byteIds is null || _unknownId < 0 || !Contains(merged, _unknownId))
        {
            foreach (var id in merged)
            {
                ids.Add(id);
            }

            return;
        }

        // Byte fallback: each unknown character (the library gives it the unknown token) becomes its bytes' tokens;
        // only where one of those is missing does it stay unknown (fused with an unknown before it under fuse_unk).
        var tokens = bpe.EncodeToTokens(piece, out _, considerPreTokenization: false, considerNormalization: false);
        var previousUnknown = false;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var token in tokens)
        {
            if (token.Id != _unknownId)
            {
                ids.Add(token.Id);
                previousUnknown = false;
                continue;
            }

            var (start, length) = token.Offset.GetOffsetAndLength(piece.Length);
            for (var i = start; i < start + length; i++)
            {
                var charLength = char.IsHighSurrogate(piece[i]) && i + 1 < start + length ? 2 : 1;
                var byteCount = Encoding.UTF8.GetBytes(piece.AsSpan(i, charLength), utf8);
                var all = true;
                for (var b = 0; b < byteCount; b++)
                {
                    all &= _byteIds[utf8[b]] >= 0;
                }

                if (all)
                {
                    for (var b = 0; b < byteCount; b++)
                    {
                        ids.Add(_byteIds[utf8[b]]);
                    }

                    previousUnknown = false;
                }
                else if (!(previousUnknown && _fuseUnknown))
                {
                    ids.Add(_unknownId);
                    previousUnknown = true;
                }

                i += charLength - 1;
            }
        }
    }

    private bool TryWholePiece(string piece, out int id)
    {
        if (!ByteLevel)
        {
            return _vocabulary.TryGetValue(piece, out id);
        }

        var maxBytes = Encoding.UTF8.GetMaxByteCount(piece.Length);
        Span<byte> bytes = maxBytes <= 256 ? stackalloc byte[maxBytes] : new byte[maxBytes];
        var count = Encoding.UTF8.GetBytes(piece, bytes);
        Span<char> mapped = count <= 256 ? stackalloc char[count] : new char[count];
        for (var i = 0; i < count; i++)
        {
            mapped[i] = ByteLevelAlphabet.CharOf[bytes[i]];
        }

        return _vocabulary.TryGetValue(mapped, out id);
    }

    private static bool Contains(IReadOnlyList<int> ids, int id)
    {
        for (var i = 0; i < ids.Count; i++)
        {
            if (ids[i] == id)
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>GPT-2's table of one printable character per byte, used by byte-level BPE vocabularies.</summary>
internal static class ByteLevelAlphabet
{
    /// <summary>The character that stands for each byte.</summary>
    public static readonly char[] CharOf = BuildChars();

    /// <summary>The byte each character stands for, or -1.</summary>
    public static readonly short[] ByteOf = BuildBytes();

    private static char[] BuildChars()
    {
        var chars = new char[256];
        var next = 0;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            chars[b] = (char)(printable ? b : 256 + next++);
        }

        return chars;
    }

    private static short[] BuildBytes()
    {
        var bytes = new short[512];
        Array.Fill(bytes, (short)-1);
        for (var b = 0; b < 256; b++)
        {
            bytes[CharOf[b]] = (short)b;
        }

        return bytes;
    }

    /// <summary>The bytes a byte-level token stands for, or null when a character is outside the table.</summary>
    public static byte[]? BytesOf(string token)
    {
        var bytes = new byte[token.Length];
        for (var i = 0; i < token.Length; i++)
        {
            var c = token[i];
            if (c >= 512 || ByteOf[c] < 0)
            {
                return null;
            }

            bytes[i] = (byte)ByteOf[c];
        }

        return bytes;
    }
}
