using OnnxGpt.Tokenization;
using OnnxGpt.Tokenization.TokenizerJson;

namespace OnnxGpt.Constraints;

/// <summary>
/// A framed JSON output (<see cref="JsonOutputFrame"/>) whose opening and closing markers are tokens of the vocabulary
/// (Qwen's <c>&lt;tool_call&gt;</c>, Mistral's <c>[TOOL_CALLS]</c>, Phi's <c>&lt;|tool_call|&gt;</c>): the markers are
/// forced as their single token ids, never spelled out, and between them the text and JSON value are constrained byte
/// by byte. After the closing marker the output is complete. The markers' text reaches the output as the detokenizer
/// gives it (special tokens included), so the tool-call parser sees them.
/// </summary>
internal sealed class FramedTokenConstraint : ITokenConstraint
{
    private readonly int[] _open;
    private readonly ITokenConstraint _inner;
    private readonly int[] _close;
    private readonly int[] _eos;
    private int _opened;
    private int _closed;
    private bool _innerDone;

    private FramedTokenConstraint(int[] open, ITokenConstraint inner, int[] close, int[] eos)
    {
        _open = open;
        _inner = inner;
        _close = close;
        _eos = eos;
    }

    /// <inheritdoc />
    public bool IsComplete => _innerDone && _closed == _close.Length;

    /// <summary>The ids forced before the value (for tests and diagnostics).</summary>
    internal IReadOnlyList<int> OpeningTokens => _open;

    /// <summary>The ids forced after the value (for tests and diagnostics).</summary>
    internal IReadOnlyList<int> ClosingTokens => _close;

    /// <summary>
    /// Starts one request's constraint for <paramref name="frame"/>: the leading and trailing added tokens of its prefix
    /// and suffix (as the tokenizer matches them) are forced as ids; the rest of the text and the value are matched by
    /// the compiled grammar. A frame without such tokens is the plain byte constraint.
    /// </summary>
    /// <param name="frame">The framed output.</param>
    /// <param name="setting">The setting to name in errors.</param>
    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="vocabularySize">The model's vocabulary size (the logits' width).</param>
    /// <param name="eosTokenIds">The tokens that end the output.</param>
    /// <returns>The constraint.</returns>
    public static ITokenConstraint Start(JsonOutputFrame frame, string setting, GptTokenizer tokenizer, int vocabularySize, IReadOnlyList<int> eosTokenIds)
    {
        var trie = TokenTrie.For(tokenizer, vocabularySize);
        var (open, prefix) = LeadingMarkers(tokenizer, frame.Prefix);
        var (close, suffix) = TrailingMarkers(tokenizer, frame.Suffix);
        var inner = JsonSchemaConstraint.Get(open.Length == 0 && close.Length == 0 ? frame : frame with { Prefix = prefix, Suffix = suffix }, setting);
        if (open.Length == 0 && close.Length == 0)
        {
            return inner.Start(trie, eosTokenIds);
        }

        // With a closing marker the value is followed by it, never by the end of the sequence.
        var innerConstraint = inner.Start(trie, close.Length > 0 ? [] : eosTokenIds);
        return new FramedTokenConstraint(open, innerConstraint, close, [.. eosTokenIds]);
    }

    /// <inheritdoc />
    public void Mask(Span<float> logits, int remainingTokens)
    {
        if (_opened < _open.Length)
        {
            Force(logits, _open[_opened]);
            return;
        }

        if (_innerDone)
        {
            if (_closed < _close.Length)
            {
                Force(logits, _close[_closed]);
            }

            return;
        }

        _inner.Mask(logits, Math.Max(1, remainingTokens - _close.Length));

        // Inside the frame the markers never appear as text (a closing marker in a string would end the call early),
        // and with a closing marker to come the sequence cannot end yet.
        Ban(logits, _open);
        Ban(logits, _close);
        if (_close.Length > 0)
        {
            Ban(logits, _eos);
        }
    }

    /// <inheritdoc />
    public void Accept(int token)
    {
        if (_opened < _open.Length)
        {
            Expect(token, _open[_opened++]);
            return;
        }

        if (!_innerDone)
        {
            _inner.Accept(token);
            _innerDone = _inner.IsComplete;
            return;
        }

        if (_closed < _close.Length)
        {
            Expect(token, _close[_closed++]);
        }
    }

    /// <summary>The added tokens the text starts with (<c>Ids</c>), and the text after them (<c>Text</c>).</summary>
    internal static (int[] Ids, string Text) LeadingMarkers(GptTokenizer tokenizer, string text)
    {
        if (text.Length == 0 || tokenizer.Pipeline is not { } pipeline)
        {
            return ([], text);
        }

        var ids = new List<int>();
        var rest = text;
        foreach (var id in tokenizer.Encode(text, addSpecialTokens: false))
        {
            if (AddedContent(pipeline, id) is not { } content || !rest.StartsWith(content, StringComparison.Ordinal))
            {
                break;
            }

            ids.Add(id);
            rest = rest[content.Length..];
        }

        return ([.. ids], rest);
    }

    /// <summary>The added tokens the text ends with (<c>Ids</c>), and the text before them (<c>Text</c>).</summary>
    internal static (int[] Ids, string Text) TrailingMarkers(GptTokenizer tokenizer, string text)
    {
        if (text.Length == 0 || tokenizer.Pipeline is not { } pipeline)
        {
            return ([], text);
        }

        var encoded = tokenizer.Encode(text, addSpecialTokens: false);
        var ids = new List<int>();
        var rest = text;
        for (var i = encoded.Count - 1; i >= 0; i--)
        {
            if (AddedContent(pipeline, encoded[i]) is not { } content || !rest.EndsWith(content, StringComparison.Ordinal))
            {
                break;
            }

            ids.Insert(0, encoded[i]);
            rest = rest[..^content.Length];
        }

        return ([.. ids], rest);
    }

    private static string? AddedContent(TokenizerJsonPipeline pipeline, int id)
    {
        foreach (var token in pipeline.AddedTokens)
        {
            if (token.Id == id)
            {
                return token.Content.Length > 0 ? token.Content : null;
            }
        }

        return null;
    }

    private static void Ban(Span<float> logits, int[] ids)
    {
        foreach (var id in ids)
        {
            if ((uint)id < (uint)logits.Length)
            {
                logits[id] = float.NegativeInfinity;
            }
        }
    }

    private static void Force(Span<float> logits, int id)
    {
        var score = (uint)id < (uint)logits.Length && float.IsFinite(logits[id]) ? logits[id] : 0f;
        logits.Fill(float.NegativeInfinity);
        if ((uint)id < (uint)logits.Length)
        {
            logits[id] = score;
        }
    }

    private static void Expect(int token, int expected)
    {
        if (token != expected)
        {
            throw new InvalidOperationException($"Token {token} is not the forced marker token {expected} of the constrained output; the mask should have allowed only that one.");
        }
    }
}
