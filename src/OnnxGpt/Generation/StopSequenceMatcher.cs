using System.Text;

namespace OnnxGpt.Generation;

/// <summary>
/// Finds stop sequences in streamed text, even when they span tokens: text that could still become a stop sequence
/// is held back until the next fragment decides. Only a tail shorter than the longest stop sequence is ever held.
/// </summary>
internal sealed class StopSequenceMatcher
{
    private readonly string[] _stops;
    private readonly StringBuilder _pending = new();

    public StopSequenceMatcher(IEnumerable<string>? stops) => _stops = stops?.Where(s => s.Length > 0).Distinct(StringComparer.Ordinal).ToArray() ?? [];

    /// <summary>Adds a fragment; returns the text now safe to release and whether a stop sequence was reached.</summary>
    public (string Released, bool Stopped) Push(string fragment)
    {
        if (_stops.Length == 0)
        {
            return (fragment, false);
        }

        _pending.Append(fragment);
        var text = _pending.ToString();
        var first = -1;
        foreach (var stop in _stops)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
            }
        }

        if (first >= 0)
        {
            _pending.Clear();
            return (text[..first], true);
        }

        var hold = HeldTail(text);
        _pending.Clear().Append(text, text.Length - hold, hold);
        return (text[..^hold], false);
    }

    /// <summary>Releases whatever is held back (the generation ended without completing a stop sequence).</summary>
    public string Flush()
    {
        var text = _pending.ToString();
        _pending.Clear();
        return text;
    }

    /// <summary>The length of the longest tail of <paramref name="text"/> that is a proper prefix of a stop sequence.</summary>
    private int HeldTail(string text)
    {
        var best = 0;
        foreach (var stop in _stops)
        {
            for (var n = Math.Min(stop.Length - 1, text.Length); n > best; n--)
            {
                if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n)))
                {
                    best = n;
                    break;
                }
            }
        }

        return best;
    }
}
