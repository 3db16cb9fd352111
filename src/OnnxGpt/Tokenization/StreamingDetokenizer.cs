using System.Text;

namespace OnnxGpt.Tokenization;

/// <summary>
/// Turns generated token ids, one at a time, into text fragments that are safe to show while
/// generation goes on: never a broken character. For a tokenizer.json whose decoder streams token by token
/// (byte-level; SentencePiece-style ▁, byte fallback, fuse), the concatenation of every fragment and <see cref="Flush"/>
/// is the text the ids add after a prompt: decode(prompt + ids) less decode(prompt), so the first token keeps the
/// leading space that decoding a text from its start would strip; special tokens add their text. Otherwise it equals
/// <see cref="GptTokenizer.Decode(IEnumerable{int})"/> of all the ids appended since the last <see cref="Reset"/>.
/// </summary>
/// <remarks>
/// Microsoft.ML.Tokenizers has no incremental decoder, so each step decodes a short window:
/// a few already-emitted ids of context followed by the ids not yet emitted, and emits only the text
/// beyond the context's own decode. Ids are held back while their text ends in U+FFFD, that is while a
/// token stops in the middle of a UTF-8 character (byte-level BPE and SentencePiece byte fallback).
/// Once the ids seen have used up the tokenizer's special handling of the first word (SentencePiece
/// removes the leading space of the first piece that is neither a control nor a byte token), the window
/// is decoded after a fixed "anchor" token, so that this removal applies to the anchor and never to text
/// in the middle of the output. The window never holds more than
/// <see cref="ContextSize"/> + <see cref="MaxPendingIds"/> ids (plus the anchor), so the work per token
/// does not grow with the length of the output.
/// </remarks>
internal sealed class StreamingDetokenizer
{
    /// <summary>How many already-emitted ids are kept as context for the next decode.</summary>
    internal const int ContextSize = 4;

    /// <summary>
    /// How many ids may be held back waiting for the rest of a character. A UTF-8 character has at
    /// most four bytes; a longer run of ids that all end in U+FFFD is invalid UTF-8 and is emitted as is.
    /// </summary>
    internal const int MaxPendingIds = 16;

    private const char ReplacementCharacter = '\uFFFD';

    private readonly GptTokenizer _tokenizer;
    private readonly byte[]?[]? _tokenBytes;
    private readonly TokenizerJson.StreamPiece[]? _pieces;

    /// <summary>A run of byte-fallback bytes: its text is known only when the run ends (invalid UTF-8: one U+FFFD per byte).</summary>
    private readonly List<byte> _fallbackRun = [];
    private readonly Decoder? _utf8;
    private char[] _chars = new char[64];

    /// <summary>Ids whose decode is plain complete text and absorbs any first-token whitespace handling; empty when none was found.</summary>
    private readonly int[] _anchorIds;

    /// <summary>The text the anchor adds when it follows another anchor (SentencePiece: " a", not "a").</summary>
    private readonly string _anchorAfterAnchorText;

    /// <summary>Context ids (already emitted) followed by pending ids (not yet emitted).</summary>
    private readonly List<int> _ids = [];

    /// <summary>The ids handed to the tokenizer: the anchor (when in use) and then <see cref="_ids"/>.</summary>
    private readonly List<int> _buffer = [];

    private int _contextCount;

    /// <summary>How many ids the next decode covers; bounded, whatever the length of the output.</summary>
    internal int WindowLength => _buffer.Count > _ids.Count ? _buffer.Count : _ids.Count;

    private string _contextText = string.Empty;
    private bool _anchored;

    /// <summary>Creates a detokenizer for the ids of <paramref name="tokenizer"/>.</summary>
    /// <param name="tokenizer">The tokenizer that produced the vocabulary of the ids.</param>
    public StreamingDetokenizer(GptTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        if (tokenizer.StreamPieces is { } pieces)
        {
            // tokenizer.json: each token's bytes (special tokens included) through a stateful UTF-8 decoder, and byte
            // fallback runs held until they end, as Hugging Face's ByteFallback decoder resolves them.
            _pieces = pieces;
            _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
            _anchorIds = [];
            _anchorAfterAnchorText = string.Empty;
            return;
        }

        if (tokenizer.TokenBytes is { } table && tokenizer.Pipeline is null)
        {
            // Byte-level BPE: the text is the tokens' bytes one after the other, and a stateful UTF-8 decoder holds
            // back an unfinished character by itself, so no window is decoded.
            _tokenBytes = table;
            _utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false).GetDecoder();
            _anchorIds = [];
            _anchorAfterAnchorText = string.Empty;
            return;
        }

        int[] anchor = [.. tokenizer.Pipeline is null ? tokenizer.InnerTokenizer.EncodeToIds("a") : tokenizer.Encode("a", addSpecialTokens: false)];
        var anchorText = anchor.Length > 0 ? tokenizer.Decode(anchor) : string.Empty;
        if (anchorText.Length > 0 && !anchorText.Contains(ReplacementCharacter, StringComparison.Ordinal))
        {
            _anchorIds = anchor;
            var twice = tokenizer.Decode([.. anchor, .. anchor]);
            _anchorAfterAnchorText = twice.StartsWith(anchorText, StringComparison.Ordinal) ? twice[anchorText.Length..] : anchorText;
        }
        else
        {
            _anchorIds = [];
            _anchorAfterAnchorText = string.Empty;
        }
    }

    /// <summary>Adds a generated id and returns the text that is now safe to emit.</summary>
    /// <param name="tokenId">The generated token id.</param>
    /// <returns>The new text; empty while the id (or the ids before it) end in the middle of a character.</returns>
    public string Append(int tokenId)
    {
        if (_pieces is not null)
        {
            if ((uint)tokenId >= (uint)_pieces.Length)
            {
                return string.Empty;
            }

            var piece = _pieces[tokenId];
            if (piece.FallbackByte >= 0)
            {
                _fallbackRun.Add((byte)piece.FallbackByte);
                return string.Empty;
            }

            var run = EndFallbackRun();
            var pieceText = piece.Bytes.Length > 0 ? Decode(piece.Bytes, flush: false) : string.Empty;
            return run.Length == 0 ? pieceText : run + pieceText;
        }

        if (_utf8 is not null)
        {
            var bytes = (uint)tokenId < (uint)_tokenBytes!.Length ? _tokenBytes[tokenId] : null;
            return bytes is { Length: > 0 } ? Decode(bytes, flush: false) : string.Empty;
        }

        _ids.Add(tokenId);
        var text = DecodeWindow();
        var pending = _ids.Count - _contextCount;
        if (text.Length > _contextText.Length && text[^1] == ReplacementCharacter && pending < MaxPendingIds)
        {
            return string.Empty;
        }

        return Emit(text);
    }

    /// <summary>Returns the text still held back (an unfinished character decodes to U+FFFD) and emits it.</summary>
    /// <returns>The held-back text; empty when nothing is held back.</returns>
    public string Flush()
    {
        if (_pieces is not null)
        {
            var run = EndFallbackRun();
            var rest = Decode([], flush: true);
            return run.Length == 0 ? rest : rest + run;
        }

        if (_utf8 is not null)
        {
            return Decode([], flush: true);
        }

        if (_ids.Count == _contextCount)
        {
            return string.Empty;
        }

        return Emit(DecodeWindow());
    }

    /// <summary>Forgets every id, to start a new output.</summary>
    public void Reset()
    {
        _utf8?.Reset();
        _fallbackRun.Clear();
        _ids.Clear();
        _buffer.Clear();
        _contextCount = 0;
        _contextText = string.Empty;
        _anchored = false;
    }

    private string EndFallbackRun()
    {
        if (_fallbackRun.Count == 0)
        {
            return string.Empty;
        }

        // The UTF-8 decoder holds nothing here: fallback bytes never go through it.
        var text = TokenizerJson.ByteFallbackDecoder.RunText(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_fallbackRun));
        _fallbackRun.Clear();
        return text;
    }

    private string Emit(string text)
    {
        string fragment;
        if (text.StartsWith(_contextText, StringComparison.Ordinal))
        {
            fragment = text[_contextText.Length..];
        }
        else
        {
            // Not expected with the supported tokenizers: emit what differs from the context's decode.
            var common = 0;
            var limit = Math.Min(text.Length, _contextText.Length);
            while (common < limit && text[common] == _contextText[common])
            {
                common++;
            }

            fragment = text[common..];
        }

        if (_ids.Count > ContextSize)
        {
            _ids.RemoveRange(0, _ids.Count - ContextSize);
        }

        _contextCount = _ids.Count;
        _contextText = DecodeWindow();
        if (!_anchored && _anchorIds.Length > 0 && TokenizerTreatsNextTokenAsInner())
        {
            // From now on the tokenizer treats every later token as "not the first one" (SentencePiece
            // keeps its leading space); the anchor reproduces that however short the context window is.
            _anchored = true;
            _contextText = DecodeWindow();
        }

        return fragment;
    }

    /// <summary>
    /// Whether the anchor decodes after the emitted ids exactly as it does after another anchor: then the
    /// ids already seen have used up any special handling of the first word, for example SentencePiece's
    /// removal of the leading space of the first piece that is neither a control nor a byte token.
    /// </summary>
    private bool TokenizerTreatsNextTokenAsInner()
    {
        _buffer.Clear();
        _buffer.AddRange(_ids);
        _buffer.AddRange(_anchorIds);
        var text = _tokenizer.Decode(_buffer);
        return text.Length == _contextText.Length + _anchorAfterAnchorText.Length
            && text.StartsWith(_contextText, StringComparison.Ordinal)
            && text.EndsWith(_anchorAfterAnchorText, StringComparison.Ordinal);
    }

    private string DecodeWindow()
    {
        _buffer.Clear();
        if (_anchored)
        {
            _buffer.AddRange(_anchorIds);
        }

        _buffer.AddRange(_ids);
        return _tokenizer.Decode(_buffer);
    }

    private string Decode(byte[] bytes, bool flush)
    {
        // The bytes always go through GetChars, which keeps an unfinished character's bytes for the next call.
        // n bytes plus up to 3 held back decode to at most n + 3 chars.
        if (_chars.Length < bytes.Length + 4)
        {
            _chars = new char[bytes.Length + 4];
        }

        var count = _utf8!.GetChars(bytes, 0, bytes.Length, _chars, 0, flush);
        return count == 0 ? string.Empty : new string(_chars, 0, count);
    }
}
