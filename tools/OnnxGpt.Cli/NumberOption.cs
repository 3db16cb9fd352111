using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace OnnxGpt.Cli;

/// <summary>
/// Numeric flags parsed the same way whatever the machine's culture: '.' for decimals, no thousands separators, so
/// <c>--temperature 1,5</c> is an error naming the flag (not 15), and no error names a .NET type.
/// </summary>
internal static class NumberOption
{
    /// <summary>An optional number: null when the flag is absent (the model's or library's default).</summary>
    public static Option<T?> Create<T>(string name, string description, string helpName, params string[] aliases)
        where T : struct, INumber<T>
    {
        var option = new Option<T?>(name, aliases) { Description = description, HelpName = helpName };
        option.CustomParser = result => Parse<T>(result, name);
        return option;
    }

    /// <summary>A number with a default used when the flag is absent.</summary>
    public static Option<T> Create<T>(string name, T defaultValue, string description, string helpName, params string[] aliases)
        where T : struct, INumber<T>
    {
        var option = new Option<T>(name, aliases) { Description = description, HelpName = helpName, DefaultValueFactory = _ => defaultValue };
        option.CustomParser = result => Parse<T>(result, name) ?? defaultValue;
        return option;
    }

    /// <summary>Whole numbers, the flag repeated or comma-separated (<c>--streams 1,8</c> or <c>--streams 1 --streams 8</c>).</summary>
    public static Option<int[]> CreateList(string name, string description, string helpName)
    {
        var option = new Option<int[]>(name) { Description = description, HelpName = helpName, AllowMultipleArgumentsPerToken = true };
        option.CustomParser = result =>
        {
            var values = new List<int>();
            foreach (var token in result.Tokens)
            {
                foreach (var part in token.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!int.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
                    {
                        result.AddError($"{name} takes whole numbers, repeated or comma-separated (for example {name} 1,8), not '{token.Value}'.");
                        return [];
                    }

                    values.Add(value);
                }
            }

            return [.. values];
        };
        return option;
    }

    private static T? Parse<T>(ArgumentResult result, string name)
        where T : struct, INumber<T>
    {
        if (result.Tokens.Count == 0)
        {
            return null;
        }

        var text = result.Tokens[^1].Value;
        var whole = typeof(T) == typeof(int) || typeof(T) == typeof(long);
        var styles = whole ? NumberStyles.AllowLeadingSign : NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent;
        if (T.TryParse(text, styles, CultureInfo.InvariantCulture, out var value) && T.IsFinite(value))
        {
            return value;
        }

        result.AddError(whole
            ? $"{name} takes a whole number (for example {name} 64), not '{text}'."
            : $"{name} takes a number with '.' for decimals (for example {name} 0.7), not '{text}'.");
        return null;
    }
}
