using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace OnnxGpt.Bench;

/// <summary>What <see cref="ColdRunBenchmark"/> measured: cold <c>onnxgpt generate</c> processes per configuration.</summary>
public sealed class ColdRunReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>The command line each process ran (after the executable).</summary>
    public required string Command { get; init; }

    /// <summary>Tokens each process generated.</summary>
    public required int NewTokens { get; init; }

    /// <summary>Processes per configuration (medians are reported).</summary>
    public required int Runs { get; init; }

    /// <summary>Logical processors of the machine.</summary>
    public required int ProcessorCount { get; init; }

    /// <summary>One entry per configuration, the default first.</summary>
    public required IReadOnlyList<ColdRunResult> Results { get; init; }

    /// <summary>Writes the report as indented camelCase JSON.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes one row per configuration with its ratios to the default.</summary>
    /// <param name="console">Where to write.</param>
    public void WriteTable(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var baseline = Results[0];
        var table = new Table()
            .Title(Markup.Escape($"cold processes: onnxgpt {Command}, {Runs} runs each (interleaved), {ProcessorCount} cores"))
            .AddColumn("configuration")
            .AddColumn(new TableColumn("start to first token ms").RightAligned())
            .AddColumn(new TableColumn("x default").RightAligned())
            .AddColumn(new TableColumn("decode tok/s").RightAligned())
            .AddColumn(new TableColumn("x default").RightAligned())
            .AddColumn(new TableColumn("process ms").RightAligned());
        foreach (var r in Results)
        {
            table.AddRow(
                Markup.Escape(r.Label),
                r.StartToFirstTokenMs.ToString("F0", CultureInfo.InvariantCulture),
                (r.StartToFirstTokenMs / baseline.StartToFirstTokenMs).ToString("F2", CultureInfo.InvariantCulture) + "x",
                r.DecodeTokensPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                (r.DecodeTokensPerSecond / baseline.DecodeTokensPerSecond).ToString("F2", CultureInfo.InvariantCulture) + "x",
                r.ProcessMs.ToString("F0", CultureInfo.InvariantCulture));
        }

        console.Write(table);
    }
}
