using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.ML.Tokenizers;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Constraints;

/// <summary>
/// Every token's bytes in one trie, built once per tokenizer: computing a constraint's mask walks it with the
/// matcher's state, so a byte the grammar rejects prunes every token that starts with the same bytes at once.
/// </summary>
internal sealed class TokenTrie
{
    private static readonly ConditionalWeakTable<GptTokenizer, TokenTrie> Cache = [];

    private TokenTrie(byte[]?[] tokens, int vocabularySize)
    {
        VocabularySize = Math.Max(vocabularySize, tokens.Length);
        Tokens = tokens.Length == VocabularySize ? tokens : [.. tokens, .. new byte[]?[VocabularySize - tokens.Length]];
        var children = new List<Dictionary<byte, int>> { new() };
        var ends = new List<List<int>?> { null };
        for (var id = 0; id < tokens.Length; id++)
        {
            if (tokens[id] is not { Length: > 0 } bytes)
            {
                continue;
            }

            var node = 0;
            foreach (var b in bytes)
            {
                if (!children[node].TryGetValue(b, out var child))
                {
                    child = children.Count;
                    children[node][b] = child;
                    children.Add([]);
                    ends.Add(null);
                }

                node = child;
            }

            (ends[node] ??= []).Add(id);
        }

        // Flattened: node i's children are edges [EdgeStart[i], EdgeStart[i + 1]), sorted by byte.
        NodeCount = children.Count;
        EdgeStart = new int[NodeCount + 1];
        TokenStart = new int[NodeCount + 1];
        EdgeByte = new byte[NodeCount - 1];
        EdgeNode = new int[NodeCount - 1];
        var tokenIds = new List<int>();
        var edge = 0;
        for (var i = 0; i < NodeCount; i++)
        {
            EdgeStart[i] = edge;
            foreach (var (b, child) in children[i].OrderBy(pair => pair.Key))
            {
                EdgeByte[edge] = b;
                EdgeNode[edge] = child;
                edge++;
            }

            TokenStart[i] = tokenIds.Count;
            if (ends[i] is { } ids)
            {
                tokenIds.AddRange(ids);
            }
        }

        EdgeStart[NodeCount] = edge;
        TokenStart[NodeCount] = tokenIds.Count;
        TokenIds = [.. tokenIds];
        MaxDepth = tokens.Max(t => t?.Length ?? 0);
    }

    /// <summary>Ids the mask covers (the model's vocabulary, or the tokenizer's if larger).</summary>
    public int VocabularySize { get; }

    /// <summary>Each token's bytes by id (null: never allowed).</summary>
    public byte[]?[] Tokens { get; }

    public int NodeCount { get; }

    public int[] EdgeStart { get; }

    public byte[] EdgeByte { get; }

    public int[] EdgeNode { get; }

    public int[] TokenStart { get; }

    public int[] TokenIds { get; }

    /// <summary>The longest token, in bytes.</summary>
    public int MaxDepth { get; }

    /// <summary>The trie of <paramref name="tokenizer"/>'s tokens, built on first use and kept as long as the tokenizer (so once per model).</summary>
    public static TokenTrie For(GptTokenizer tokenizer, int vocabularySize) =>
        Cache.GetValue(tokenizer, t => new TokenTrie(TokenBytes(t, vocabularySize), vocabularySize));

    /// <summary>Builds a trie over the given token bytes (null or empty: never allowed, as special tokens).</summary>
    public static TokenTrie Create(byte[]?[] tokens, int vocabularySize) => new(tokens, vocabularySize);

    /// <summary>
    /// Each token's bytes: the tokenizer's own table where it has one; otherwise (the one fallback) read from the
    /// SentencePiece vocabulary, or else by decoding each id alone (a token that is part of a UTF-8 character then
    /// decodes to U+FFFD and is never allowed).
    /// </summary>
    internal static byte[]?[] TokenBytes(GptTokenizer tokenizer, int vocabularySize)
    {
        if (tokenizer.TokenBytes is { } table)
        {
            return table;
        }

        switch (tokenizer.InnerTokenizer)
        {
            case SentencePieceTokenizer sentencePiece:
                return SentencePieceBytes(sentencePiece);
            default:
                var decoded = new byte[]?[vocabularySize];
                for (var id = 0; id < vocabularySize; id++)
                {
                    var text = tokenizer.InnerTokenizer.Decode([id]);
                    decoded[id] = string.IsNullOrEmpty(text) || text.Contains('\uFFFD', StringComparison.Ordinal) ? null : Encoding.UTF8.GetBytes(text);
                }

                return decoded;
        }
    }

    /// <summary>SentencePiece pieces: the space marker is a space, <c>&lt;0xAB&gt;</c> byte-fallback pieces are one byte, control pieces none.</summary>
    private static byte[]?[] SentencePieceBytes(SentencePieceTokenizer tokenizer)
    {
        var tokens = new byte[]?[tokenizer.Vocabulary.Values.Max() + 1];
        var special = new HashSet<int> { tokenizer.BeginningOfSentenceId, tokenizer.EndOfSentenceId, tokenizer.UnknownId };
        if (tokenizer.SpecialTokens is { } specials)
        {
            special.UnionWith(specials.Values);
        }

        foreach (var (piece, id) in tokenizer.Vocabulary)
        {
            if (special.Contains(id))
            {
                continue;
            }

            if (piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) && piece[5] == '>'
                && byte.TryParse(piece.AsSpan(3, 2), System.Globalization.NumberStyles.HexNumber, null, out var single))
            {
                tokens[id] = [single];
                continue;
            }

            tokens[id] = Encoding.UTF8.GetBytes(piece.Replace('\u2581', ' '));
        }

        return tokens;
    }
}
