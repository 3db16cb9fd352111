namespace OnnxGpt.Templates.Jinja;

/// <summary>Reads a call's argument by position or keyword, as Python binds them.</summary>
internal static class JinjaArgs
{
    public static object? Get(List<object?> args, List<KeyValuePair<string, object?>>? kwargs, int index, string name, object? fallback = null)
    {
        if (index < args.Count)
        {
            return args[index];
        }

        if (kwargs is not null)
        {
            foreach (var (key, value) in kwargs)
            {
                if (key == name)
                {
                    return value;
                }
            }
        }

        return fallback;
    }

    public static bool Has(List<object?> args, List<KeyValuePair<string, object?>>? kwargs, int index, string name) =>
        index < args.Count || (kwargs is not null && kwargs.Exists(k => k.Key == name));

    public static string String(object? value, string what) => value switch
    {
        string s => s,
        JinjaUndefined u => throw u.Error(),
        _ => throw new JinjaException($"{what} must be a string, not {PyOps.TypeName(value)}"),
    };
}
