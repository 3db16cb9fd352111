using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// The merge of tokenizer.json's <c>BPE</c> model for SentencePiece-style vocabularies (not byte-level: Gemma, Mistral,
/// Llama 2), written as the Rust library's <c>Word::merge_all</c>: one symbol per character (or its
/// <c>&lt;0xNN&gt;</c> byte tokens under <c>byte_fallback</c>, or the unknown token, fused under <c>fuse_unk</c>),
/// then a priority queue of adjacent pairs ordered by (merge rank, position) over a linked list of symbols.
/// </summary>
/// <remarks>
/// Why not Microsoft.ML.Tokenizers' <c>BpeTokenizer</c> here: it has no byte fallback, building it from Gemma 3's
/// 514,906 merges took most of a 2-second load, and these vocabularies have no pre-tokenizer that splits on spaces,
/// so each line is one long word, on which its merge was 0.6x the Rust library's speed. This merge is
/// O(n log n) per word, keyed by (left id, right id), and loads from ids without building strings. Like the Rust
/// library it merges such a line as one word, but it finds at load where no merge can join across the place before a
/// '▁' (in Gemma 3 and Mistral: anywhere but after another '▁'), merges the parts between those places on their own
/// (the same ids) and caches each part, as byte-level tokenizers cache the words their pre-tokenizer splits. Byte-level
/// vocabularies (GPT-2 style: Qwen, Llama 3) still use the library's BPE, which is fast on their short words.
/// The Tokenizers.DotNet differential tests (tests/OnnxGpt.Tests/Tokenization/TokenizerJson) hold it to the Rust
/// library's ids.
/// </remarks>
internal sealed class SentencePieceBpe
{
    /// <summary>Longest word kept in the cache, in UTF-16 units (the Rust library keeps up to 256 characters).</summary>
    private const int MaxCachedLength = 256;

    /// <summary>Words of at most this many symbols merge by scanning (<see cref="MergeShort"/>), longer ones with a queue.</summary>
    private const int ShortWordLength = 64;

    /// <summary>Most words kept in the cache (the Rust library's default capacity).</summary>
    private const int CacheCapacity = 10_000;

    /// <summary>SentencePiece's word-start marker, which the normalizer or pre-tokenizer puts for each space.</summary>
    private const char Marker = '\u2581';

    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabulary;
    private readonly MergeTable _merges;
    private readonly int[] _charIds;
    private readonly int[]? _byteIds;
    private readonly int _unknownId;
    private readonly bool _fuseUnknown;
    private readonly bool _ignoreMerges;
    private readonly string? _prefix;
    private readonly string? _suffix;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;

    /// <summary>
    /// For each character, whether a word may be split before a '▁' that follows it (see <see cref="Encode"/>); null
    /// when words are never split (a continuing_subword_prefix or end_of_word_suffix, or no '▁' token).
    /// </summary>
    private readonly bool[]? _splitsAfter;

    /// <summary>How many words the cache holds (read without the cache's locks).</summary>
    private int _cacheCount;

    /// <summary>This thread's buffers for <see cref="Merge"/>, so that merging a word allocates nothing.</summary>
    [ThreadStatic]
    private static Scratch? _threadScratch;

    /// <summary>Creates the merge.</summary>
    /// <param name="vocabulary">token -> id.</param>
    /// <param name="merges">The merges by pair of ids.</param>
    /// <param name="ignoreMerges">Whether a word that is a vocabulary entry is that one token.</param>
    /// <param name="byteFallback">Whether characters outside the vocabulary become <c>&lt;0xNN&gt;</c> tokens.</param>
    /// <param name="unknownToken">The unknown token, or null.</param>
    /// <param name="fuseUnknown">Whether consecutive unknown characters become one unknown token.</param>
    /// <param name="prefix">continuing_subword_prefix, or null.</param>
    /// <param name="suffix">end_of_word_suffix, or null.</param>
    /// <param name="charsBeforeMarkerMerges">
    /// The last character of every merge's left token whose right token starts with '▁' (where a merge can join across
    /// the place before a '▁'); null when unknown, and then words are not split.
    /// </param>
    public SentencePieceBpe(Dictionary<string, int> vocabulary, MergeTable merges, bool ignoreMerges, bool byteFallback, string? unknownToken, bool fuseUnknown, string? prefix, string? suffix, IReadOnlySet<char>? charsBeforeMarkerMerges)
    {
        _vocabulary = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = merges;
        _ignoreMerges = ignoreMerges;
        _fuseUnknown = fuseUnknown;
        _prefix = string.IsNullOrEmpty(prefix) ? null : prefix;
        _suffix = string.IsNullOrEmpty(suffix) ? null : suffix;
        _unknownId = unknownToken is not null && vocabulary.TryGetValue(unknownToken, out var unk) ? unk : -1;
        _charIds = new int[char.MaxValue + 1];
        Array.Fill(_charIds, -1);
        foreach (var (token, id) in vocabulary)
        {
            if (token.Length == 1 && !char.IsSurrogate(token[0]))
            {
                _charIds[token[0]] = id;
            }
        }

        if (byteFallback)
        {
            _byteIds = new int[256];
            for (var b = 0; b < 256; b++)
            {
                _byteIds[b] = vocabulary.TryGetValue(BpeModel.ByteToken((byte)b), out var id) ? id : -1;
            }
        }

        // A split before a '▁' at p is exact when the symbol that starts there always starts with the character '▁'
        // (its own token, merged only with what follows) and the symbol that ends before it always ends with the
        // character at p - 1 (a character of the vocabulary, not a byte-fallback or unknown token, not half of a
        // surrogate pair) that no merge has on the left of a '▁'-initial token.
        if (charsBeforeMarkerMerges is not null && _prefix is null && _suffix is null && _charIds[Marker] >= 0)
        {
            _splitsAfter = new bool[char.MaxValue + 1];
            for (var c = 0; c <= char.MaxValue; c++)
            {
                _splitsAfter[c] = _charIds[c] >= 0 && !charsBeforeMarkerMerges.Contains((char)c);
            }
        }
    }

    /// <summary>Whether words are merged in parts split before '▁' (see <see cref="Encode"/>).</summary>
    public bool SplitsWords => _splitsAfter is not null;

    /// <summary>Whether a word is split before a '▁' that follows <paramref name="c"/>.</summary>
    public bool SplitsBeforeMarkerAfter(char c) => _splitsAfter is not null && _splitsAfter[c];

    /// <summary>Adds the ids of one pre-tokenized word.</summary>
    public void Encode(string word, List<int> ids)
    {
        if (word.Length == 0)
        {
            return;
        }

        if (_ignoreMerges && _vocabulary.TryGetValue(word, out var whole))
        {
            ids.Add(whole);
            return;
        }

        var splitsAfter = _splitsAfter;
        if (splitsAfter is null)
        {
            EncodePart(word, ids);
            return;
        }

        // A merge never joins a symbol that starts with '▁' to a character before it that no merge puts before a
        // '▁'-initial token, so the word merges as its parts between such places (each part's merges are the same as
        // in the whole word, whose merge order restricted to a part is the part's own), and each part is cached.
        var span = word.AsSpan();
        var start = 0;
        for (var at = 1; at < span.Length;)
        {
            var found = span[at..].IndexOf(Marker);
            if (found < 0)
            {
                break;
            }

            var position = at + found;
            if (splitsAfter[span[position - 1]])
            {
                EncodePart(span[start..position], ids);
                start = position;
            }

            at = position + 1;
        }

        EncodePart(span[start..], ids);
    }

    /// <summary>Adds the ids of a word or a part of one that merges on its own, from the cache when it is there.</summary>
    private void EncodePart(ReadOnlySpan<char> word, List<int> ids)
    {
        var cacheable = word.Length <= MaxCachedLength;
        if (cacheable && _cacheLookup.TryGetValue(word, out var cached))
        {
            ids.AddRange(cached);
            return;
        }

        var start = ids.Count;
        Merge(word, ids);
        if (cacheable && Volatile.Read(ref _cacheCount) < CacheCapacity && _cacheLookup.TryAdd(word, CollectionsMarshal.AsSpan(ids)[start..].ToArray()))
        {
            Interlocked.Increment(ref _cacheCount);
        }
    }

    private void Merge(ReadOnlySpan<char> word, List<int> output)
    {
        // The symbols, as a linked list over arrays: id (-1 once merged into its left neighbour), previous, next.
        var scratch = _threadScratch ??= new Scratch();
        var symbols = scratch.Symbols.Length >= word.Length ? scratch.Symbols : new int[word.Length];
        var count = 0;
        var pendingUnknown = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = 0; i < word.Length;)
        {
            var length = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            var id = LookUp(word, i, length);
            if (id >= 0)
            {
                if (pendingUnknown)
                {
                    Add(ref symbols, ref count, _unknownId);
                    pendingUnknown = false;
                }

                Add(ref symbols, ref count, id);
            }
            else if (!TryByteFallback(word, i, length, ref symbols, ref count, utf8) && _unknownId >= 0)
            {
                // As the Rust library: an unknown character waits, to be fused with the next one under fuse_unk.
                if (pendingUnknown && !_fuseUnknown)
                {
                    Add(ref symbols, ref count, _unknownId);
                }

                pendingUnknown = true;
            }

            i += length;
        }

        if (pendingUnknown)
        {
            Add(ref symbols, ref count, _unknownId);
        }

        if (count < 2 || _merges.Count == 0)
        {
            for (var i = 0; i < count; i++)
            {
                output.Add(symbols[i]);
            }

            return;
        }

        scratch.Symbols = symbols;
        if (scratch.Previous.Length < count)
        {
            scratch.Previous = new int[symbols.Length];
            scratch.Next = new int[symbols.Length];
            scratch.Pairs = new long[symbols.Length];
        }

        var previous = scratch.Previous;
        var next = scratch.Next;
        if (count <= ShortWordLength)
        {
            MergeShort(symbols, count, previous, next, scratch.Pairs);
        }
        else
        {
            MergeLong(symbols, count, previous, next, scratch.Queue);
        }

        for (var i = 0; i < count; i++)
        {
            if (symbols[i] >= 0)
            {
                output.Add(symbols[i]);
            }
        }
    }

    /// <summary>
    /// Short words: each live pair's merge kept beside it, and the best pair found by a scan (lowest rank, then leftmost,
    /// the order of the Rust library's heap), which needs no queue and looks up only the two pairs a merge changes.
    /// </summary>
    private void MergeShort(int[] symbols, int count, int[] previous, int[] next, long[] pairs)
    {
        for (var i = 0; i < count; i++)
        {
            previous[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
            pairs[i] = i + 1 < count && _merges.TryGet(symbols[i], symbols[i + 1], out var merge) ? merge : -1;
        }

        while (true)
        {
            // The first symbol is never merged away (a merge removes the right one), so the list starts at 0.
            var best = -1;
            var bestMerge = long.MaxValue;
            for (var i = 0; i >= 0; i = next[i])
            {
                // Rank in the high bits: the lowest value is the lowest rank; a tie is the same pair, and '<' keeps the leftmost.
                var merge = pairs[i];
                if (merge >= 0 && merge < bestMerge)
                {
                    bestMerge = merge;
                    best = i;
                }
            }

            if (best < 0)
            {
                return;
            }

            var right = next[best];
            var mergedId = (int)bestMerge;
            symbols[best] = mergedId;
            symbols[right] = -1;
            var after = next[right];
            next[best] = after;
            if (after >= 0)
            {
                previous[after] = best;
            }

            pairs[best] = after >= 0 && _merges.TryGet(mergedId, symbols[after], out var withAfter) ? withAfter : -1;
            var before = previous[best];
            if (before >= 0)
            {
                pairs[before] = _merges.TryGet(symbols[before], mergedId, out var withBefore) ? withBefore : -1;
            }
        }
    }

    /// <summary>Long words: a priority queue of pairs by (rank, position), as the Rust library's <c>Word::merge_all</c>.</summary>
    private void MergeLong(int[] symbols, int count, int[] previous, int[] next, PriorityQueue<int, long> queue)
    {
        queue.Clear();
        for (var i = 0; i < count; i++)
        {
            previous[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
            if (i + 1 < count && _merges.TryGet(symbols[i], symbols[i + 1], out var merge))
            {
                queue.Enqueue((int)merge, Priority(merge, i));
            }
        }

        while (queue.TryDequeue(out var mergedId, out var priority))
        {
            var position = (int)(priority & 0xFFFFFFFF);
            var right = next[position];
            if (symbols[position] < 0 || right < 0)
            {
                continue;
            }

            // A stale entry: one of the pair has merged since it was queued.
            if (!_merges.TryGet(symbols[position], symbols[right], out var current) || (int)current != mergedId)
            {
                continue;
            }

            symbols[position] = mergedId;
            symbols[right] = -1;
            var after = next[right];
            next[position] = after;
            if (after >= 0)
            {
                previous[after] = position;
            }

            var before = previous[position];
            if (before >= 0 && _merges.TryGet(symbols[before], mergedId, out var withBefore))
            {
                queue.Enqueue((int)withBefore, Priority(withBefore, before));
            }

            if (after >= 0 && _merges.TryGet(mergedId, symbols[after], out var withAfter))
            {
                queue.Enqueue((int)withAfter, Priority(withAfter, position));
            }
        }
    }

    /// <summary>Lower ranks first, then the leftmost pair, as the Rust library's heap orders them.</summary>
    private static long Priority(long merge, int position) => (merge & ~0xFFFFFFFFL) | (uint)position;

    private int LookUp(ReadOnlySpan<char> word, int start, int length)
    {
        var first = start == 0;
        var last = start + length == word.Length;
        if ((_prefix is null || first) && (_suffix is null || !last))
        {
            if (length == 1)
            {
                return _charIds[word[start]];
            }

            return _vocabulary.TryGetValue(word.Slice(start, length), out var id) ? id : -1;
        }

        return _vocabulary.TryGetValue(Affixed(word, start, length), out var affixedId) ? affixedId : -1;
    }

    private string Affixed(ReadOnlySpan<char> word, int start, int length) =>
        string.Concat(start == 0 ? null : _prefix, word.Slice(start, length), start + length == word.Length ? _suffix : null);

    private bool TryByteFallback(ReadOnlySpan<char> word, int start, int length, ref int[] symbols, ref int count, Span<byte> utf8)
    {
        if (_byteIds is null)
        {
            return false;
        }

        // The Rust library falls back on the bytes of the character with its prefix and suffix, if any.
        var plain = (_prefix is null || start == 0) && (_suffix is null || start + length != word.Length);
        Span<byte> bytes = plain ? utf8[..Encoding.UTF8.GetBytes(word.Slice(start, length), utf8)] : Encoding.UTF8.GetBytes(Affixed(word, start, length));
        foreach (var b in bytes)
        {
            if (_byteIds[b] < 0)
            {
                return false;
            }
        }

        // As the Rust library, a waiting unknown token is not added first: it follows the byte tokens.
        foreach (var b in bytes)
        {
            Add(ref symbols, ref count, _byteIds[b]);
        }

        return true;
    }

    private static void Add(ref int[] symbols, ref int count, int id)
    {
        if (count == symbols.Length)
        {
            System.Array.Resize(ref symbols, symbols.Length * 2 + 4);
        }

        symbols[count++] = id;
    }

    /// <summary>One thread's merge buffers.</summary>
    private sealed class Scratch
    {
        public int[] Symbols = new int[64];
        public int[] Previous = new int[64];
        public int[] Next = new int[64];
        public long[] Pairs = new long[64];
        public readonly PriorityQueue<int, long> Queue = new(64);
    }
}
