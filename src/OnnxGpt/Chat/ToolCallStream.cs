namespace OnnxGpt.Chat;

/// <summary>
/// Streams a reply's text while watching for a tool call: text is passed on until the format's opening marker
/// appears (a possible start of it at the end is held back), and from the marker on everything is buffered, to be
/// parsed into calls when the reply ends.
/// </summary>
internal sealed class ToolCallStream(ToolCallFormat format)
{
    private readonly string? _marker = ToolCallParser.OpeningMarker(format);
    private readonly System.Text.StringBuilder _pending = new();
    private bool _buffering;
    private bool _sawText;

    /// <summary>Whether a call may have started (the rest of the reply is being buffered).</summary>
    public bool IsBuffering => _buffering;

    /// <summary>Adds a token's text; returns the text that can be shown now (possibly empty).</summary>
    public string Append(string text)
    {
        _pending.Append(text);
        if (_buffering)
        {
            return string.Empty;
        }

        var pending = _pending.ToString();
        if (_marker is null)
        {
            // Llama's JSON call is the whole reply: buffer when its first non-blank character opens JSON or the python tag.
            if (_sawText)
            {
                _pending.Clear();
                return pending;
            }

            var trimmed = pending.TrimStart();
            if (trimmed.Length == 0)
            {
                return string.Empty;
            }

            if (trimmed[0] is '{' or '[' || "<|python_tag|>".StartsWith(trimmed, StringComparison.Ordinal) || trimmed.StartsWith("<|python_tag|>", StringComparison.Ordinal))
            {
                _buffering = trimmed[0] is '{' or '[' || trimmed.StartsWith("<|python_tag|>", StringComparison.Ordinal);
                return string.Empty;
            }

            _sawText = true;
            _pending.Clear();
            return pending;
        }

        var at = pending.IndexOf(_marker, StringComparison.Ordinal);
        if (at >= 0)
        {
            _buffering = true;
            _pending.Clear().Append(pending, at, pending.Length - at);
            return pending[..at];
        }

        // Hold back an end that could be the start of the marker.
        var keep = 0;
        for (var length = Math.Min(_marker.Length - 1, pending.Length); length > 0; length--)
        {
            if (string.CompareOrdinal(pending, pending.Length - length, _marker, 0, length) == 0)
            {
                keep = length;
                break;
            }
        }

        _pending.Clear().Append(pending, pending.Length - keep, keep);
        return pending[..^keep];
    }

    /// <summary>The held-back or buffered text, for parsing when the reply ends.</summary>
    public string TakeRest()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return rest;
    }
}
