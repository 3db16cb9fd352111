using OnnxGpt.Providers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace OnnxGpt.Bench;

/// <summary>
/// The outcome of <see cref="BenchmarkRunner.RunAsync"/>: one entry per implementation, the ratios between them, and the
/// machine's memory-bandwidth ceiling. <see cref="ToJson"/> writes it with stable camelCase field names.
/// </summary>
public sealed class BenchmarkReport
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    /// <summary>The model folder's name (e.g. <c>gpt2-124m</c>).</summary>
    public required string Model { get; init; }

    /// <summary>The model folder's full path.</summary>
    public required string ModelDirectory { get; init; }

    /// <summary>Number of prompt tokens.</summary>
    public required int PromptTokens { get; init; }

    /// <summary>Tokens asked for per run.</summary>
    public required int NewTokens { get; init; }

    /// <summary>Measured runs per implementation.</summary>
    public required int MeasuredRuns { get; init; }

    /// <summary>Warm-up runs per implementation.</summary>
    public required int WarmupRuns { get; init; }

    /// <summary>The position of the early per-token time.</summary>
    public required int EarlyPosition { get; init; }

    /// <summary>The position of the late per-token time.</summary>
    public required int LatePosition { get; init; }

    /// <summary>Decode steps in each per-token window.</summary>
    public required int PositionWindow { get; init; }

    /// <summary>The intra-op threads every implementation ran with (0: ONNX Runtime's default).</summary>
    public int? IntraOpThreads { get; init; }

    /// <summary>The CPU threading every implementation ran with, as <see cref="CpuThreading.ToString"/> describes it.</summary>
    public string? Threading { get; init; }

    /// <summary>The execution provider OnnxGpt ran on (the other implementations run on the CPU).</summary>
    public string ExecutionProvider { get; init; } = "Cpu";

    /// <summary>Logical processors of the machine.</summary>
    public required int ProcessorCount { get; init; }

    /// <summary>The implementations, in the order they ran.</summary>
    public required IReadOnlyList<ImplementationReport> Implementations { get; init; }

    /// <summary>Ratios between implementations.</summary>
    public required BenchmarkRatios Ratios { get; init; }

    /// <summary>Memory read bandwidth in GB/s (10^9 bytes/s), best of three passes on every core; null when not measured.</summary>
    public double? BandwidthGBps { get; init; }

    /// <summary>Bytes of weights one decode step reads (the manifest's initializers, or the graph and its data file).</summary>
    public required long WeightBytes { get; init; }

    /// <summary>Bandwidth divided by the weight bytes per token: the decode speed no CPU implementation can beat.</summary>
    public double? CeilingTokensPerSecond { get; init; }

    /// <summary>OnnxGpt's decode tokens/s as a fraction of <see cref="CeilingTokensPerSecond"/>.</summary>
    public double? FractionOfCeiling { get; init; }

    /// <summary>The process's peak working set over the whole benchmark (before the bandwidth pass), in bytes.</summary>
    public required long ProcessPeakWorkingSetBytes { get; init; }

    /// <summary>Whether every implementation that ran produced the same greedy ids in every run (null when fewer than two ran).</summary>
    public bool? IdsMatch { get; init; }

    /// <summary>Writes the report as indented camelCase JSON.</summary>
    /// <returns>The JSON text.</returns>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>Milliseconds of one JSON-schema constraint mask over the vocabulary (median over the states measured, uncached); null without a tokenizer.</summary>
    public double? JsonMaskMs { get; init; }

    /// <summary>The slowest state's median mask time, in milliseconds.</summary>
    public double? JsonMaskWorstMs { get; init; }

    /// <summary>The vocabulary the mask covers.</summary>
    public int? JsonMaskVocabulary { get; init; }

    /// <summary><see cref="JsonMaskMs"/> over OnnxGpt's decode step (1000 / decode tokens/s).</summary>
    public double? JsonMaskOverDecodeStep { get; init; }

    /// <summary>Writes a table (one row per implementation) and the ratio and ceiling lines.</summary>
    /// <param name="console">Where to write.</param>
    public void WriteTable(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var table = new Table()
            .Title(Markup.Escape($"{Model}: {PromptTokens} prompt + {NewTokens} new tokens, greedy, median of {MeasuredRuns} run(s), OnnxGpt on {ExecutionProvider}"))
            .AddColumn("Implementation")
            .AddColumn(new TableColumn("TTFT ms").RightAligned())
            .AddColumn(new TableColumn("decode tok/s").RightAligned())
            .AddColumn(new TableColumn(Markup.Escape($"ms/token @{EarlyPosition}")).RightAligned())
            .AddColumn(new TableColumn(Markup.Escape($"ms/token @{LatePosition}")).RightAligned())
            .AddColumn(new TableColumn("alloc B/token").RightAligned())
            .AddColumn(new TableColumn("peak WS MiB").RightAligned())
            .AddColumn("tokens");
        foreach (var i in Implementations)
        {
            if (i.Status != ImplementationStatus.Ok)
            {
                var reason = Markup.Escape($"{i.Status.ToString().ToLowerInvariant()}: {i.Note}");
                table.AddRow(Markup.Escape(i.Name), "-", "-", "-", "-", "-", "-", $"[yellow]{reason}[/]");
                continue;
            }

            table.AddRow(
                Markup.Escape(i.Name),
                Format(i.TimeToFirstTokenMs, "F1"),
                Format(i.DecodeTokensPerSecond, "F1"),
                Format(i.PerTokenMsEarly, "F2"),
                Format(i.PerTokenMsLate, "F2"),
                Format(i.AllocatedBytesPerToken, "N0"),
                Format(i.PeakWorkingSetBytes / 1048576.0, "N0"),
                Markup.Escape(i.GeneratedTokens.ToString(CultureInfo.InvariantCulture) + (i.Note is null ? string.Empty : " (" + i.Note + ")")));
        }

        console.Write(table);
        foreach (var i in Implementations)
        {
            if (i.Steps is { } steps)
            {
                console.MarkupLine(Markup.Escape($"{i.Name} {steps}"));
            }
        }

        console.MarkupLine(Markup.Escape($"OnnxGpt / ORT tight (decode tok/s): {Ratio(Ratios.OnnxGptOverOrtTight)}   OnnxGpt / GenAI: {Ratio(Ratios.OnnxGptOverGenAi)}   OnnxGpt / ORT naive: {Ratio(Ratios.OnnxGptOverOrtNaive)}"));
        foreach (var i in Implementations)
        {
            if (i.Peer is { } peer)
            {
                console.MarkupLine(Markup.Escape($"OnnxGpt / {i.Name} (decode tok/s): {Ratio(peer.OnnxGptDecodeSpeedup)}   TTFT OnnxGpt / {i.Name}: {Ratio(peer.OnnxGptTimeToFirstTokenRatio)}   greedy ids equal to OnnxGpt's: {peer.IdsEqual} of {peer.IdsCompared} (first {peer.CommonPrefix} in a row)"));
            }
        }
        if (Threading is not null)
        {
            console.MarkupLine(Markup.Escape($"CPU threads (every implementation): {Threading}"));
        }

        console.MarkupLine(Markup.Escape($"OnnxGpt per-token time late / early (@{LatePosition} / @{EarlyPosition}): {Ratio(Ratios.OnnxGptLateOverEarly)}"));
        var weights = WeightBytes / 1e6;
        console.MarkupLine(Markup.Escape(BandwidthGBps is { } bw
            ? $"Memory read bandwidth {bw:F1} GB/s; {weights:F0} MB of weights per token -> ceiling {CeilingTokensPerSecond:F1} tok/s; OnnxGpt at {FractionOfCeiling * 100:F0}% of it"
            : $"Memory bandwidth not measured; {weights:F0} MB of weights per token"));
        if (JsonMaskMs is { } mask)
        {
            console.MarkupLine(Markup.Escape($"JSON schema mask over {JsonMaskVocabulary:N0} tokens: {mask:F3} ms per step (slowest state {JsonMaskWorstMs:F3} ms, uncached) = {JsonMaskOverDecodeStep * 100:F1}% of OnnxGpt's decode step"));
        }

        console.MarkupLine(Markup.Escape($"Process peak working set {ProcessPeakWorkingSetBytes / 1048576.0:N0} MiB"));
        console.MarkupLine(IdsMatch switch
        {
            true => "[green]Greedy ids match across implementations.[/]",
            false => "[red]Greedy ids DIFFER between implementations.[/]",
            null => "Greedy ids: fewer than two implementations ran.",
        });
    }

    private static string Format(double? value, string format) =>
        value is { } v ? v.ToString(format, CultureInfo.InvariantCulture) : "-";

    private static string Ratio(double? value) =>
        value is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) + "x" : "n/a";
}

/// <summary>Whether an implementation ran.</summary>
public enum ImplementationStatus
{
    /// <summary>It ran; its numbers are set.</summary>
    Ok,

    /// <summary>It is not in this build (GenAI on GPU builds) or was not selected.</summary>
    Unavailable,

    /// <summary>It threw; <see cref="ImplementationReport.Note"/> says why.</summary>
    Failed,
}

/// <summary>One implementation's numbers (medians over the measured runs).</summary>
public sealed record ImplementationReport
{
    /// <summary>"OnnxGpt", "ORT naive", "ORT tight" or "GenAI".</summary>
    public required string Name { get; init; }

    /// <summary>Whether it ran.</summary>
    public required ImplementationStatus Status { get; init; }

    /// <summary>Why it did not run, or a remark (e.g. ended early at end-of-sequence).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Note { get; init; }

    /// <summary>Time from the request to the first token (prompt processing included), ms.</summary>
    public double? TimeToFirstTokenMs { get; init; }

    /// <summary>Tokens after the first per second of the time after the first.</summary>
    public double? DecodeTokensPerSecond { get; init; }

    /// <summary>Median step time of the decode steps from the early position, ms.</summary>
    public double? PerTokenMsEarly { get; init; }

    /// <summary>Median step time of the decode steps from the late position, ms.</summary>
    public double? PerTokenMsLate { get; init; }

    /// <summary>Managed bytes the process allocated per decode token (first token to last).</summary>
    public double? AllocatedBytesPerToken { get; init; }

    /// <summary>Highest working set sampled while this implementation loaded and ran, bytes.</summary>
    public long? PeakWorkingSetBytes { get; init; }

    /// <summary>Time to load the model (session creation), ms.</summary>
    public double? LoadMs { get; init; }

    /// <summary>Tokens generated per run.</summary>
    public int GeneratedTokens { get; init; }

    /// <summary>How the decode steps' times spread (medians over the measured runs); null for a run of one token.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public StepDistribution? Steps { get; init; }

    /// <summary>Every decode step's time of the first measured run, ms (index k: the step producing token k + 1), when asked for.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<double>? StepTimesMs { get; init; }

    /// <summary>The generated ids of the first measured run (when asked for).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<int>? TokenIds { get; init; }

    /// <summary>For a peer (LLamaSharp): its greedy ids and speed against OnnxGpt's in the same run; null otherwise.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PeerComparison? Peer { get; init; }
}

/// <summary>Ratios between implementations (null when one side did not run).</summary>
public sealed class BenchmarkRatios
{
    /// <summary>OnnxGpt decode tokens/s divided by ORT tight's: 1 means no overhead over the tightest loop.</summary>
    public double? OnnxGptOverOrtTight { get; init; }

    /// <summary>OnnxGpt decode tokens/s divided by GenAI's.</summary>
    public double? OnnxGptOverGenAi { get; init; }

    /// <summary>OnnxGpt decode tokens/s divided by the naive loop's.</summary>
    public double? OnnxGptOverOrtNaive { get; init; }

    /// <summary>OnnxGpt time to first token divided by ORT tight's.</summary>
    public double? OnnxGptTimeToFirstTokenOverOrtTight { get; init; }

    /// <summary>OnnxGpt per-token time at the late position divided by that at the early one.</summary>
    public double? OnnxGptLateOverEarly { get; init; }
}
