using System.Globalization;
using System.Text;

namespace OnnxGpt.Templates.Jinja;

/// <summary>Python's <c>strftime</c> for transformers' <c>strftime_now</c> (C locale).</summary>
internal static class JinjaStrftime
{
    public static string Format(DateTimeOffset now, string format)
    {
        var culture = CultureInfo.InvariantCulture;
        var builder = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }

            var code = format[++i];
            builder.Append(code switch
            {
                'd' => now.Day.ToString("00", culture),
                '-' when i + 1 < format.Length && format[i + 1] == 'd' => Skip(ref i, now.Day.ToString(culture)),
                'e' => now.Day.ToString(culture).PadLeft(2),
                'm' => now.Month.ToString("00", culture),
                'Y' => now.Year.ToString("0000", culture),
                'y' => (now.Year % 100).ToString("00", culture),
                'B' => culture.DateTimeFormat.GetMonthName(now.Month),
                'b' or 'h' => culture.DateTimeFormat.GetAbbreviatedMonthName(now.Month),
                'A' => culture.DateTimeFormat.GetDayName(now.DayOfWeek),
                'a' => culture.DateTimeFormat.GetAbbreviatedDayName(now.DayOfWeek),
                'H' => now.Hour.ToString("00", culture),
                'I' => (now.Hour % 12 == 0 ? 12 : now.Hour % 12).ToString("00", culture),
                'M' => now.Minute.ToString("00", culture),
                'S' => now.Second.ToString("00", culture),
                'p' => now.Hour < 12 ? "AM" : "PM",
                'j' => now.DayOfYear.ToString("000", culture),
                'f' => (now.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", culture),
                'z' => (now.Offset < TimeSpan.Zero ? "-" : "+") + now.Offset.ToString("hhmm", culture),
                'w' => ((int)now.DayOfWeek).ToString(culture),
                '%' => "%",
                _ => "%" + code,
            });
        }

        return builder.ToString();
    }

    private static string Skip(ref int i, string value)
    {
        i++;
        return value;
    }
}
