using System.Text;
using System.Text.Json;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>Called for each merge of model.merges, in file order.</summary>
/// <param name="left">The left token.</param>
/// <param name="right">The right token.</param>
/// <param name="index">The merge's index (its rank).</param>
internal delegate void MergeVisitor(ReadOnlySpan<char> left, ReadOnlySpan<char> right, int index);

/// <summary>
/// The two large values of a tokenizer.json, <c>model.vocab</c> and <c>model.merges</c> (Gemma 3: 262,144 tokens and
/// 514,906 merges), read straight from the bytes with <see cref="Utf8JsonReader"/> instead of a
/// <see cref="JsonDocument"/>, so that loading builds no document for them and no string per merge. The rest of the
/// file, with those two values replaced by <c>null</c>, is small enough for a document.
/// </summary>
internal sealed class LargeParts
{
    /// <summary>The reader options that match the loader's document options.</summary>
    public static readonly JsonReaderOptions ReaderOptions = new() { AllowTrailingCommas = true, MaxDepth = 256 };

    private readonly ReadOnlyMemory<byte> _json;

    private LargeParts(ReadOnlyMemory<byte> json, Range? vocab, Range? merges, ReadOnlyMemory<byte> rest)
    {
        _json = json;
        Vocab = vocab;
        Merges = merges;
        Rest = rest;
    }

    /// <summary>Where model.vocab's object is, when it is an object.</summary>
    public Range? Vocab { get; }

    /// <summary>Where model.merges' array is, when it is an array.</summary>
    public Range? Merges { get; }

    /// <summary>The file with model.vocab and model.merges (where found) replaced by <c>null</c>.</summary>
    public ReadOnlyMemory<byte> Rest { get; }

    /// <summary>Finds model.vocab and model.merges in <paramref name="json"/>.</summary>
    /// <exception cref="JsonException">The JSON is malformed.</exception>
    /// <exception cref="TokenizerJsonFormatException">A key the loader reads appears twice.</exception>
    public static LargeParts Find(ReadOnlyMemory<byte> json)
    {
        var reader = new Utf8JsonReader(json.Span, ReaderOptions);
        Range? vocab = null;
        Range? merges = null;
        if (reader.Read() && reader.TokenType == JsonTokenType.StartObject)
        {
            var seenModel = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isModel = reader.ValueTextEquals("model"u8);
                reader.Read();
                if (isModel && seenModel)
                {
                    throw new TokenizerJsonFormatException("the key 'model' appears twice");
                }

                seenModel |= isModel;
                if (!isModel || reader.TokenType != JsonTokenType.StartObject)
                {
                    reader.Skip();
                    continue;
                }

                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var which = reader.ValueTextEquals("vocab"u8) ? 1 : reader.ValueTextEquals("merges"u8) ? 2 : 0;
                    reader.Read();
                    var start = (int)reader.TokenStartIndex;
                    var kind = reader.TokenType;
                    reader.Skip();
                    var range = new Range(start, (int)reader.BytesConsumed);
                    if (which == 1 && (vocab is not null || kind != JsonTokenType.StartObject))
                    {
                        throw new TokenizerJsonFormatException(vocab is not null ? "the key 'model.vocab' appears twice" : "model.vocab is missing or not an object of token -> id");
                    }

                    if (which == 2 && merges is not null)
                    {
                        throw new TokenizerJsonFormatException("the key 'model.merges' appears twice");
                    }

                    if (which == 1)
                    {
                        vocab = range;
                    }
                    else if (which == 2 && kind == JsonTokenType.StartArray)
                    {
                        merges = range;
                    }
                }
            }
        }

        return new LargeParts(json, vocab, merges, Blank(json, vocab, merges));
    }

    /// <summary>Reads model.vocab: token -> id, and the tokens by id (null where no token has the id).</summary>
    /// <exception cref="TokenizerJsonFormatException">An id is not a non-negative integer, is duplicated, or is implausibly large.</exception>
    public (Dictionary<string, int> Vocabulary, string?[] Tokens) ReadVocabulary()
    {
        var span = _json.Span[Vocab!.Value];
        var reader = new Utf8JsonReader(span, ReaderOptions);
        reader.Read();
        var vocabulary = new Dictionary<string, int>(Math.Max(16, span.Length / 12), StringComparer.Ordinal);
        var byId = new string?[1024];
        var maxId = -1;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out var id) || id < 0)
            {
                reader.Skip();
                var raw = Encoding.UTF8.GetString(span[start..(int)reader.BytesConsumed]);
                throw new TokenizerJsonFormatException($"model.vocab[\"{name}\"] is {raw}, not a non-negative integer id");
            }

            if (id >= 16_777_216)
            {
                throw new TokenizerJsonFormatException($"the largest token id, {id}, is implausibly large (more than 2^24 ids)");
            }

            if (id >= byId.Length)
            {
                System.Array.Resize(ref byId, Math.Max(byId.Length * 2, id + 1));
            }

            if (byId[id] is { } other)
            {
                throw new TokenizerJsonFormatException($"model.vocab: the id {id} is given to both '{other}' and '{name}'");
            }

            if (!vocabulary.TryAdd(name, id))
            {
                throw new TokenizerJsonFormatException($"model.vocab: the token '{name}' appears twice");
            }

            byId[id] = name;
            maxId = Math.Max(maxId, id);
        }

        if (vocabulary.Count == 0)
        {
            throw new TokenizerJsonFormatException("model.vocab is empty");
        }

        System.Array.Resize(ref byId, maxId + 1);
        return (vocabulary, byId);
    }

    /// <summary>Calls <paramref name="visit"/> for each merge of model.merges ("left right" or ["left", "right"]).</summary>
    /// <param name="visit">What to do with each merge.</param>
    /// <param name="allowSpaces">Whether ["left", "right"] may hold spaces (not for Microsoft.ML.Tokenizers' BPE).</param>
    /// <returns>The number of merges.</returns>
    /// <exception cref="TokenizerJsonFormatException">A merge is malformed.</exception>
    public int ReadMerges(MergeVisitor visit, bool allowSpaces)
    {
        if (Merges is not { } range)
        {
            return 0;
        }

        var reader = new Utf8JsonReader(_json.Span[range], ReaderOptions);
        reader.Read();
        var buffer = new char[256];
        var index = 0;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType == JsonTokenType.String)
            {
                var length = Copy(ref reader, ref buffer, 0);
                ReadOnlySpan<char> text = buffer.AsSpan(0, length);
                var space = text.IndexOf(' ');
                if (space <= 0 || space == text.Length - 1 || text[(space + 1)..].Contains(' '))
                {
                    throw new TokenizerJsonFormatException($"model.merges[{index}] is \"{text.ToString()}\", not \"left right\"");
                }

                visit(text[..space], text[(space + 1)..], index++);
                continue;
            }

            var leftLength = -1;
            var rightLength = -1;
            if (reader.TokenType == JsonTokenType.StartArray && reader.Read() && reader.TokenType == JsonTokenType.String)
            {
                leftLength = Copy(ref reader, ref buffer, 0);
                if (reader.Read() && reader.TokenType == JsonTokenType.String)
                {
                    rightLength = Copy(ref reader, ref buffer, leftLength);
                    if (!reader.Read() || reader.TokenType != JsonTokenType.EndArray)
                    {
                        rightLength = -1;
                    }
                }
            }

            if (rightLength < 0)
            {
                throw new TokenizerJsonFormatException($"model.merges[{index}] is neither \"left right\" nor [\"left\", \"right\"]");
            }

            var left = buffer.AsSpan(0, leftLength);
            var right = buffer.AsSpan(leftLength, rightLength);
            if (left.Length == 0 || right.Length == 0 || (!allowSpaces && (left.Contains(' ') || right.Contains(' '))))
            {
                throw new TokenizerJsonFormatException($"model.merges[{index}] merges tokens that are empty{(allowSpaces ? string.Empty : " or hold a space, which Microsoft.ML.Tokenizers' BPE cannot represent")}");
            }

            visit(left, right, index++);
        }

        return index;
    }

    /// <summary>Unescapes the reader's string into <paramref name="buffer"/> at <paramref name="offset"/>; returns its length.</summary>
    private static int Copy(ref Utf8JsonReader reader, ref char[] buffer, int offset)
    {
        // A UTF-16 string is never longer than its UTF-8 (escaped) bytes.
        var needed = offset + reader.ValueSpan.Length;
        if (needed > buffer.Length)
        {
            System.Array.Resize(ref buffer, needed * 2);
        }

        return reader.CopyString(buffer.AsSpan(offset));
    }

    private static ReadOnlyMemory<byte> Blank(ReadOnlyMemory<byte> json, Range? first, Range? second)
    {
        if (first is null && second is null)
        {
            return json;
        }

        var ranges = new[] { first, second }.OfType<Range>().OrderBy(r => r.Start.Value).ToArray();
        var span = json.Span;
        var rest = new byte[span.Length - ranges.Sum(r => r.End.Value - r.Start.Value) + (4 * ranges.Length)];
        var from = 0;
        var to = 0;
        foreach (var range in ranges)
        {
            span[from..range.Start.Value].CopyTo(rest.AsSpan(to));
            to += range.Start.Value - from;
            "null"u8.CopyTo(rest.AsSpan(to));
            to += 4;
            from = range.End.Value;
        }

        span[from..].CopyTo(rest.AsSpan(to));
        return rest;
    }
}
