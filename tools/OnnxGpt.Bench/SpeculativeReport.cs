using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace OnnxGpt.Bench;

/// <summary>What <see cref="SpeculativeBenchmark"/> measured on one model.</summary>
public sealed class SpeculativeReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The model folder's name.</summary>
    public required string Model { get; init; }

    /// <summary>Prompt length (the passage and its first tokens).</summary>
    public required int PromptTokens { get; init; }

    /// <summary>Tokens generated per run.</summary>
    public required int NewTokens { get; init; }

    /// <summary>Measured rounds (medians are reported).</summary>
    public required int Rounds { get; init; }

    /// <summary>Logical processors of the machine.</summary>
    public required int ProcessorCount { get; init; }

    /// <summary>One entry per mode, plain first.</summary>
    public required IReadOnlyList<SpeculativeResult> Results { get; init; }

    /// <summary>Whether every mode gave plain greedy's ids.</summary>
    public bool IdsMatch => Results.All(r => r.IdsMatchPlain);

    /// <summary>Writes the report as indented camelCase JSON.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes one row per mode with its speedup over plain decoding.</summary>
    /// <param name="console">Where to write.</param>
    public void WriteTable(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var plain = Results[0];
        var table = new Table()
            .Title(Markup.Escape($"{Model}: copy task, {PromptTokens} prompt + {NewTokens} new tokens (greedy), {Rounds} rounds, {ProcessorCount} cores"))
            .AddColumn("mode")
            .AddColumn(new TableColumn("total ms").RightAligned())
            .AddColumn(new TableColumn("x plain").RightAligned())
            .AddColumn(new TableColumn("TTFT ms").RightAligned())
            .AddColumn(new TableColumn("decode tok/s").RightAligned())
            .AddColumn(new TableColumn("x plain").RightAligned())
            .AddColumn(new TableColumn("accepted / drafted").RightAligned())
            .AddColumn("ids");
        foreach (var r in Results)
        {
            table.AddRow(
                Markup.Escape(r.Mode),
                r.TotalMs.ToString("F0", CultureInfo.InvariantCulture),
                (plain.TotalMs / r.TotalMs).ToString("F2", CultureInfo.InvariantCulture) + "x",
                r.TimeToFirstTokenMs.ToString("F1", CultureInfo.InvariantCulture),
                r.DecodeTokensPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                (r.DecodeTokensPerSecond / plain.DecodeTokensPerSecond).ToString("F2", CultureInfo.InvariantCulture) + "x",
                r.DraftedTokens == 0 ? "-" : $"{r.AcceptedTokens} / {r.DraftedTokens}",
                r.IdsMatchPlain ? "identical" : "DIFFER");
        }

        console.Write(table);
    }
}
