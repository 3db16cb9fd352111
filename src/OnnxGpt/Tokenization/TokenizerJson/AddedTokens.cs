namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>One entry of tokenizer.json's <c>added_tokens</c>.</summary>
internal sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord, bool LeftStrip, bool RightStrip, bool Normalized);

/// <summary>
/// Finds added tokens in text before the model runs, as Hugging Face's <c>AddedVocabulary</c> does: leftmost-longest
/// matches, <c>single_word</c> matches only between non-word characters, <c>lstrip</c>/<c>rstrip</c> take the whitespace
/// beside them.
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Node _root = new();
    private readonly bool[] _firstChars = new bool[char.MaxValue + 1];

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens, Func<string, string>? normalize = null)
    {
        foreach (var token in tokens)
        {
            var content = normalize is null ? token.Content : normalize(token.Content);
            if (content.Length == 0)
            {
                continue;
            }

            var node = _root;
            foreach (var c in content)
            {
                node.Children ??= [];
                if (!node.Children.TryGetValue(c, out var child))
                {
                    child = new Node();
                    node.Children.Add(c, child);
                }

                node = child;
            }

            node.Token ??= token;
            _firstChars[content[0]] = true;
            Count++;
        }
    }

    /// <summary>How many tokens the matcher knows.</summary>
    public int Count { get; }

    /// <summary>
    /// Adds the segments of <paramref name="text"/> to <paramref name="segments"/>: (start, length, token) where token is
    /// the added token found there, or null for text between added tokens.
    /// </summary>
    public void Split(string text, List<(int Start, int Length, AddedToken? Token)> segments)
    {
        if (Count == 0)
        {
            segments.Add((0, text.Length, null));
            return;
        }

        var textStart = 0;
        var i = 0;
        while (i < text.Length)
        {
            if (!_firstChars[text[i]])
            {
                i++;
                continue;
            }

            // The longest token starting at i.
            AddedToken? found = null;
            var foundEnd = 0;
            var node = _root;
            for (var j = i; j < text.Length && node.Children is not null && node.Children.TryGetValue(text[j], out node); j++)
            {
                if (node.Token is not null)
                {
                    found = node.Token;
                    foundEnd = j + 1;
                }
            }

            if (found is null)
            {
                i++;
                continue;
            }

            if (found.SingleWord && ((i > 0 && IsWordChar(text, i - 1, before: true)) || (foundEnd < text.Length && IsWordChar(text, foundEnd, before: false))))
            {
                // Not a word on its own: the match is consumed without splitting, as the Rust library's iterator does.
                i = foundEnd;
                continue;
            }

            var start = i;
            var end = foundEnd;
            if (found.LeftStrip)
            {
                while (start > textStart && char.IsWhiteSpace(text[start - 1]))
                {
                    start--;
                }
            }

            if (found.RightStrip)
            {
                while (end < text.Length && char.IsWhiteSpace(text[end]))
                {
                    end++;
                }
            }

            if (start > textStart)
            {
                segments.Add((textStart, start - textStart, null));
            }

            segments.Add((start, end - start, found));
            textStart = end;
            i = end;
        }

        if (textStart < text.Length || segments.Count == 0)
        {
            segments.Add((textStart, text.Length - textStart, null));
        }
    }

    private static bool IsWordChar(string text, int index, bool before)
    {
        var c = text[index];
        if (char.IsSurrogate(c))
        {
            var pairStart = before && char.IsLowSurrogate(c) && index > 0 ? index - 1 : index;
            return pairStart + 1 < text.Length && char.IsSurrogatePair(text[pairStart], text[pairStart + 1])
                && char.IsLetterOrDigit(char.ConvertFromUtf32(char.ConvertToUtf32(text[pairStart], text[pairStart + 1])), 0);
        }

        return char.IsLetterOrDigit(c) || c == '_';
    }

    private sealed class Node
    {
        public Dictionary<char, Node>? Children;
        public AddedToken? Token;
    }
}
