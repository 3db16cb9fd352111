using System.Globalization;

namespace OnnxGpt.Cli;

/// <summary>Parses the --prompt-ids text ("1,2,3").</summary>
internal static class PromptIds
{
    /// <summary>Parses comma-separated token ids; spaces around each id are allowed.</summary>
    /// <exception cref="CliUsageException">The text is empty or an entry is not a whole number.</exception>
    public static int[] Parse(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 0 || (parts.Length == 1 && parts[0].Length == 0))
        {
            throw new CliUsageException("--prompt-ids needs at least one token id (for example --prompt-ids 859,26).");
        }

        var ids = new int[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ids[i]))
            {
                throw new CliUsageException($"--prompt-ids must be comma-separated token ids (for example 859,26), but '{parts[i]}' is not a whole number.");
            }
        }

        return ids;
    }
}
