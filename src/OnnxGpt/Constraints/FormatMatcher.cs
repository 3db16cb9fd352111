namespace OnnxGpt.Constraints;

/// <summary>
/// Matches the string formats character by character: a template of character classes, and for dates a check
/// that the month and day (leap years included) can still be valid.
/// </summary>
internal static class FormatMatcher
{
    // D: digit, H: hexadecimal digit; anything else is literal. date-time's optional parts are handled in code.
    private const string DateTemplate = "DDDD-DD-DD";
    private const string TimeTemplate = "DD:DD:DD";
    private const string UuidTemplate = "HHHHHHHH-HHHH-HHHH-HHHH-HHHHHHHHHHHH";

    /// <summary>Whether <paramref name="text"/> followed by <paramref name="c"/> is a prefix of a valid value.</summary>
    public static bool Allows(StringFormat format, string text, char c) => format switch
    {
        StringFormat.Date => DatePrefix(text + c),
        StringFormat.Uuid => TemplatePrefix(UuidTemplate, text + c),
        _ => DateTimePrefix(text + c),
    };

    /// <summary>Whether <paramref name="text"/> is a whole valid value.</summary>
    public static bool IsComplete(StringFormat format, string text) => format switch
    {
        StringFormat.Date => text.Length == DateTemplate.Length && DatePrefix(text),
        StringFormat.Uuid => text.Length == UuidTemplate.Length && TemplatePrefix(UuidTemplate, text),
        _ => DateTimeComplete(text),
    };

    /// <summary>The fewest characters still needed after <paramref name="text"/>.</summary>
    public static int Remaining(StringFormat format, string text) => format switch
    {
        StringFormat.Date => DateTemplate.Length - text.Length,
        StringFormat.Uuid => UuidTemplate.Length - text.Length,
        _ => DateTimeRemaining(text),
    };

    /// <summary>date-time: the rest of the date and time, then the shortest zone ("Z"); after a dot a digit; in an offset its rest.</summary>
    private static int DateTimeRemaining(string text)
    {
        if (DateTimeComplete(text))
        {
            return 0;
        }

        if (text.Length < 19)
        {
            return 19 - text.Length + 1;
        }

        var zone = text.LastIndexOfAny(['+', '-']);
        if (zone >= 19)
        {
            return 6 - (text.Length - zone);
        }

        return text[^1] == '.' ? 2 : 1;
    }

    private static bool TemplatePrefix(string template, string text)
    {
        if (text.Length > template.Length)
        {
            return false;
        }

        for (var i = 0; i < text.Length; i++)
        {
            var ok = template[i] switch
            {
                'D' => char.IsAsciiDigit(text[i]),
                'H' => char.IsAsciiHexDigit(text[i]),
                var literal => text[i] == literal,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    private static bool DatePrefix(string text)
    {
        if (!TemplatePrefix(DateTemplate, text))
        {
            return false;
        }

        // Month: 01-12; day: 01 to the month's length (February's from the year, which is complete by then).
        if (text.Length >= 6 && !FieldPossible(text[5..Math.Min(7, text.Length)], 1, 12))
        {
            return false;
        }

        if (text.Length >= 9)
        {
            var year = int.Parse(text[..4], System.Globalization.CultureInfo.InvariantCulture);
            var month = int.Parse(text[5..7], System.Globalization.CultureInfo.InvariantCulture);
            return FieldPossible(text[8..], 1, System.DateTime.DaysInMonth(Math.Max(1, year), month));
        }

        return true;
    }

    /// <summary>Whether a two-digit field's first one or two digits can be completed to a value in [min, max].</summary>
    private static bool FieldPossible(string digits, int min, int max)
    {
        if (digits.Length == 2)
        {
            var value = ((digits[0] - '0') * 10) + (digits[1] - '0');
            return value >= min && value <= max;
        }

        var tens = (digits[0] - '0') * 10;
        return tens + 9 >= min && tens <= max;
    }

    private static bool DateTimePrefix(string text)
    {
        if (!DatePrefix(text[..Math.Min(10, text.Length)]))
        {
            return false;
        }

        if (text.Length <= 10)
        {
            return true;
        }

        if (text[10] != 'T')
        {
            return false;
        }

        var time = text[11..];
        if (!TemplatePrefix(TimeTemplate, time[..Math.Min(8, time.Length)])
            || (time.Length >= 1 && !FieldPossible(time[..Math.Min(2, time.Length)], 0, 23))
            || (time.Length >= 4 && !FieldPossible(time[3..Math.Min(5, time.Length)], 0, 59))
            || (time.Length >= 7 && !FieldPossible(time[6..Math.Min(8, time.Length)], 0, 59)))
        {
            return false;
        }

        if (time.Length <= 8)
        {
            return true;
        }

        // Optional fraction (up to 9 digits), then Z or +hh:mm / -hh:mm.
        var rest = time[8..];
        var i = 0;
        if (rest[0] == '.')
        {
            i = 1;
            while (i < rest.Length && char.IsAsciiDigit(rest[i]))
            {
                i++;
            }

            if (i > 10 || (i == 1 && rest.Length > 1))
            {
                return false;
            }

            if (i == rest.Length)
            {
                return true;
            }
        }

        var zone = rest[i..];
        if (zone[0] == 'Z')
        {
            return zone.Length == 1;
        }

        if (zone[0] is not ('+' or '-'))
        {
            return false;
        }

        var offset = zone[1..];
        return TemplatePrefix("DD:DD", offset)
            && (offset.Length < 1 || FieldPossible(offset[..Math.Min(2, offset.Length)], 0, 23))
            && (offset.Length < 4 || FieldPossible(offset[3..], 0, 59));
    }

    private static bool DateTimeComplete(string text)
    {
        if (text.Length < 20 || !DateTimePrefix(text))
        {
            return false;
        }

        var last = text[^1];
        return last == 'Z' ? text[^2] != '.' : text.Length >= 25 && text[^6] is '+' or '-' && text[^3] == ':';
    }
}
