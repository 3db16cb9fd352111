using System.Text;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// A Hugging Face decoder: it rewrites the list of token strings (Rust <c>decode_chain</c>); the text is their concatenation.
/// </summary>
internal abstract class JsonDecoder
{
    /// <summary>Rewrites <paramref name="tokens"/> in place.</summary>
    public abstract void DecodeChain(List<string> tokens);

    /// <summary>How <c>onnxgpt inspect</c> names it.</summary>
    public abstract string Describe();
}

/// <summary>Byte-level: the tokens' characters stand for bytes, decoded as UTF-8 with U+FFFD for invalid bytes (<c>ByteLevel</c>).</summary>
internal sealed class ByteLevelDecoder : JsonDecoder
{
    public override void DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            if (ByteLevelAlphabet.BytesOf(token) is { } mapped)
            {
                bytes.AddRange(mapped);
            }
            else
            {
                // A token with a character outside the table (an added token) stands for its own UTF-8.
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
            }
        }

        tokens.Clear();
        tokens.Add(Encoding.UTF8.GetString([.. bytes]));
    }

    public override string Describe() => "ByteLevel";
}

/// <summary>Replaces a pattern in each token (<c>Replace</c>).</summary>
internal sealed class ReplaceDecoder(TextPattern pattern, string content) : JsonDecoder
{
    public TextPattern Pattern => pattern;

    public string Content => content;

    public override void DecodeChain(List<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            tokens[i] = pattern.Replace(tokens[i], content);
        }
    }

    public override string Describe() => $"Replace({pattern} -> '{content}')";
}

/// <summary>
/// <c>&lt;0xNN&gt;</c> tokens become their bytes (<c>ByteFallback</c>): a run of them that is valid UTF-8 becomes its text,
/// an invalid run one U+FFFD per byte token, as the Rust library does.
/// </summary>
internal sealed class ByteFallbackDecoder : JsonDecoder
{
    public override void DecodeChain(List<string> tokens)
    {
        var output = new List<string>(tokens.Count);
        var run = new List<byte>();
        foreach (var token in tokens)
        {
            if (TryByte(token, out var b))
            {
                run.Add(b);
                continue;
            }

            Flush(run, output);
            output.Add(token);
        }

        Flush(run, output);
        tokens.Clear();
        tokens.AddRange(output);
    }

    /// <summary>Whether <paramref name="token"/> is a byte token such as "&lt;0x0A&gt;".</summary>
    public static bool TryByte(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, System.Globalization.CultureInfo.InvariantCulture, out value);
    }

    /// <summary>The text of a finished run of byte tokens: its UTF-8 text if valid, else one U+FFFD per byte.</summary>
    public static string RunText(ReadOnlySpan<byte> run)
    {
        try
        {
            return StrictUtf8.GetString(run);
        }
        catch (DecoderFallbackException)
        {
            return new string('\uFFFD', run.Length);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static void Flush(List<byte> run, List<string> output)
    {
        if (run.Count == 0)
        {
            return;
        }

        output.Add(RunText([.. run]));
        run.Clear();
    }

    public override string Describe() => "ByteFallback";
}

/// <summary>Joins every token into one (<c>Fuse</c>).</summary>
internal sealed class FuseDecoder : JsonDecoder
{
    public override void DecodeChain(List<string> tokens)
    {
        var joined = string.Concat(tokens);
        tokens.Clear();
        tokens.Add(joined);
    }

    public override string Describe() => "Fuse";
}

/// <summary>Removes up to <c>start</c> leading and <c>stop</c> trailing copies of a character from each token (<c>Strip</c>).</summary>
internal sealed class StripDecoder(char content, int start, int stop) : JsonDecoder
{
    public char Content => content;

    public int Start => start;

    public int Stop => stop;

    public override void DecodeChain(List<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var from = 0;
            while (from < start && from < token.Length && token[from] == content)
            {
                from++;
            }

            var to = token.Length;
            while (token.Length - to < stop && to > from && token[to - 1] == content)
            {
                to--;
            }

            tokens[i] = token[from..to];
        }
    }

    public override string Describe() => $"Strip('{content}', start: {start}, stop: {stop})";
}

/// <summary>The replacement (▁) back to spaces; the first token loses its leading space unless the scheme is never (<c>Metaspace</c>).</summary>
internal sealed class MetaspaceDecoder(char replacement, PrependScheme prependScheme) : JsonDecoder
{
    public char Replacement => replacement;

    public PrependScheme Scheme => prependScheme;

    public override void DecodeChain(List<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var text = tokens[i].Replace(replacement, ' ');
            if (i == 0 && prependScheme != PrependScheme.Never && text.StartsWith(' '))
            {
                text = text[1..];
            }

            tokens[i] = text;
        }
    }

    public override string Describe() => $"Metaspace('{replacement}', prepend: {prependScheme.ToString().ToLowerInvariant()})";
}

/// <summary>Replaces the end-of-word suffix with a space, except after the last token (<c>BPEDecoder</c>).</summary>
internal sealed class BpeSuffixDecoder(string suffix) : JsonDecoder
{
    public override void DecodeChain(List<string> tokens)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            tokens[i] = tokens[i].Replace(suffix, i == tokens.Count - 1 ? string.Empty : " ", StringComparison.Ordinal);
        }
    }

    public override string Describe() => $"BPEDecoder('{suffix}')";
}

/// <summary>Applies decoders in order (<c>Sequence</c>).</summary>
internal sealed class SequenceDecoder(IReadOnlyList<JsonDecoder> decoders) : JsonDecoder
{
    public IReadOnlyList<JsonDecoder> Decoders => decoders;

    public override void DecodeChain(List<string> tokens)
    {
        foreach (var decoder in decoders)
        {
            decoder.DecodeChain(tokens);
        }
    }

    public override string Describe() => decoders.Count == 0 ? "none" : string.Join(" > ", decoders.Select(d => d.Describe()));
}
