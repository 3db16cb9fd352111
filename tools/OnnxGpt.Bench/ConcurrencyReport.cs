using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace OnnxGpt.Bench;

/// <summary>What <see cref="ConcurrencyBenchmark"/> measured on one model.</summary>
public sealed class ConcurrencyReport
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) } };

    /// <summary>The model folder's name.</summary>
    public required string Model { get; init; }

    /// <summary>Prompt length of each stream.</summary>
    public required int PromptTokens { get; init; }

    /// <summary>Tokens each stream generates.</summary>
    public required int NewTokens { get; init; }

    /// <summary>Logical processors of the machine.</summary>
    public required int ProcessorCount { get; init; }

    /// <summary>One entry per stream count and batching setting.</summary>
    public required IReadOnlyList<ConcurrencyResult> Results { get; init; }

    /// <summary>Writes the report as indented camelCase JSON.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Writes one table row per load, stream count and batching setting, with the ratios against one stream of the same load and setting (the steady rate's against one stream's steady rate).</summary>
    /// <param name="console">Where to write.</param>
    public void WriteTable(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var table = new Table()
            .Title(Markup.Escape($"{Model}: concurrent greedy streams of {PromptTokens} prompt + {NewTokens} new tokens, {ProcessorCount} cores"))
            .AddColumn("load")
            .AddColumn(new TableColumn("streams").RightAligned())
            .AddColumn("batching")
            .AddColumn(new TableColumn("aggregate tok/s").RightAligned())
            .AddColumn(new TableColumn("x 1 stream").RightAligned())
            .AddColumn(new TableColumn("steady tok/s").RightAligned())
            .AddColumn(new TableColumn("steady x 1").RightAligned())
            .AddColumn(new TableColumn("per-stream tok/s").RightAligned())
            .AddColumn(new TableColumn("TTFT p50 ms").RightAligned())
            .AddColumn(new TableColumn("TTFT p99 ms").RightAligned())
            .AddColumn(new TableColumn("TTFT p50 x 1").RightAligned());
        foreach (var r in Results.OrderBy(r => r.Load).ThenBy(r => r.Streams).ThenBy(r => !r.Batching))
        {
            var single = Results.FirstOrDefault(s => s.Streams == 1 && s.Batching == r.Batching && s.Load == r.Load);
            table.AddRow(
                r.Load == ConcurrencyLoad.Burst ? "burst" : "closed loop",
                r.Streams.ToString(CultureInfo.InvariantCulture),
                r.Batching ? "on" : "off",
                r.AggregateTokensPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                single is null ? "-" : (r.AggregateTokensPerSecond / single.AggregateTokensPerSecond).ToString("F2", CultureInfo.InvariantCulture) + "x",
                r.SteadyTokensPerSecond is { } steady ? steady.ToString("F1", CultureInfo.InvariantCulture) : "-",
                r.SteadyTokensPerSecond is { } mine && single?.SteadyTokensPerSecond is { } one ? (mine / one).ToString("F2", CultureInfo.InvariantCulture) + "x" : "-",
                r.PerStreamTokensPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                r.TimeToFirstTokenP50Ms.ToString("F1", CultureInfo.InvariantCulture),
                r.TimeToFirstTokenP99Ms.ToString("F1", CultureInfo.InvariantCulture),
                single is null ? "-" : (r.TimeToFirstTokenP50Ms / single.TimeToFirstTokenP50Ms).ToString("F2", CultureInfo.InvariantCulture) + "x");
        }

        console.Write(table);
    }
}
