using System.Globalization;

namespace OnnxGpt.Providers;

/// <summary>
/// The CPU threads an ONNX Runtime session of a model runs with, and why. Unless configured, OnnxGpt uses one
/// intra-op thread per core the process may run on (<see cref="Environment.ProcessorCount"/>: the affinity mask and
/// the cgroup CPU quota, rounded up, whichever is smaller), runs operators sequentially, and keeps ONNX Runtime's
/// spinning pool threads and even split of each parallel loop. ONNX Runtime's own default is one thread per physical core as
/// its cpuinfo counts them, which falls back to half the logical processors where cpuinfo fails (one thread on a
/// 2-vCPU VM).
/// </summary>
/// <remarks>
/// Measured with <c>onnxgpt bench --tight-config</c> (2 vCPUs): on an otherwise idle machine spinning threads with
/// the even split decode 1.10x (gpt2-124m fp32) to 1.58x (tiny-shakespeare) faster than sleeping threads with dynamic
/// blocks. Where other busy processes share the cores, a spinning thread that is descheduled stalls every step it
/// takes part in, and sleeping threads with dynamic blocks (<see cref="AllowSpinningKey"/> = 0,
/// <see cref="DynamicBlockBaseKey"/> = 4 in <see cref="ExecutionProviderOptions.SessionConfigEntries"/>) were 1.2-3.3x
/// faster: set them on a shared host.
/// </remarks>
public sealed record CpuThreading
{
    /// <summary>Threads within one operator (the caller's thread included); 0 means ONNX Runtime's own default.</summary>
    public required int IntraOpThreads { get; init; }

    /// <summary>Threads across operators; 0 means sequential execution (one operator at a time), the right mode for a decoder's chain of nodes.</summary>
    public required int InterOpThreads { get; init; }

    /// <summary>The ONNX Runtime session config key for <see cref="AllowSpinning"/>.</summary>
    public const string AllowSpinningKey = "session.intra_op.allow_spinning";

    /// <summary>The ONNX Runtime session config key for <see cref="DynamicBlockBase"/>.</summary>
    public const string DynamicBlockBaseKey = "session.dynamic_block_base";

    /// <summary>A <see cref="DynamicBlockBase"/> that measured well with sleeping threads on a shared host (OnnxGpt's default is 0: the even split).</summary>
    public const int SharedHostDynamicBlockBase = 4;

    /// <summary>Whether idle intra-op threads spin before sleeping (ONNX Runtime's <c>session.intra_op.allow_spinning</c>).</summary>
    public required bool AllowSpinning { get; init; }

    /// <summary>
    /// ONNX Runtime's <c>session.dynamic_block_base</c>: a parallel loop of N iterations is handed out in blocks starting
    /// at N / (threads × this) and shrinking, so a late thread delays the loop by one small block; 0 leaves ONNX Runtime's
    /// even split.
    /// </summary>
    public int DynamicBlockBase { get; init; }

    /// <summary>The cores this process may use when the choice was made.</summary>
    public required int AvailableCores { get; init; }

    /// <summary>Where <see cref="IntraOpThreads"/> comes from: <c>cores available</c>, or the setting that overrode it.</summary>
    public required string Source { get; init; }

    /// <summary>The cores this process may run on: its affinity mask and cgroup CPU quota, as .NET counts them (<c>DOTNET_PROCESSOR_COUNT</c> overrides).</summary>
    public static int CoresAvailable => Environment.ProcessorCount;

    /// <summary>The choice OnnxGpt makes with nothing configured, on this machine.</summary>
    public static CpuThreading Default => Choose(null, null, CoresAvailable);

    /// <summary>Chooses the threading for a session.</summary>
    /// <param name="intraOpThreads">The configured intra-op threads (the provider entry's, else <c>GptOptions.IntraOpNumThreads</c>); null: one per available core; 0: ONNX Runtime's default.</param>
    /// <param name="interOpThreads">The configured inter-op threads; null or 0: sequential execution.</param>
    /// <param name="availableCores">The cores the process may use.</param>
    /// <returns>The threading the session gets.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative, or <paramref name="availableCores"/> is below 1.</exception>
    public static CpuThreading Choose(int? intraOpThreads, int? interOpThreads, int availableCores) =>
        Choose(intraOpThreads, interOpThreads, availableCores, null);

    /// <summary>Chooses the threading for a session whose configuration entries may override the spinning and block choices.</summary>
    /// <param name="intraOpThreads">The configured intra-op threads; null: one per available core; 0: ONNX Runtime's default.</param>
    /// <param name="interOpThreads">The configured inter-op threads; null or 0: sequential execution.</param>
    /// <param name="availableCores">The cores the process may use.</param>
    /// <param name="sessionConfigEntries">The session config entries the user set (<see cref="ExecutionProviderOptions.SessionConfigEntries"/>); <see cref="AllowSpinningKey"/> and <see cref="DynamicBlockBaseKey"/> there win.</param>
    /// <returns>The threading the session gets.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A count is negative, or <paramref name="availableCores"/> is below 1.</exception>
    public static CpuThreading Choose(int? intraOpThreads, int? interOpThreads, int availableCores, IReadOnlyDictionary<string, string>? sessionConfigEntries)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(availableCores, 1);
        if (intraOpThreads is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(intraOpThreads), intraOpThreads, "IntraOpNumThreads must be 0 (ONNX Runtime's default) or more.");
        }

        if (interOpThreads is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(interOpThreads), interOpThreads, "InterOpNumThreads must be 0 or more.");
        }

        var intra = intraOpThreads ?? availableCores;
        // Measured best on an idle machine (see the remarks); the entries below override both.
        var spinning = true;
        var blocks = 0;
        if (sessionConfigEntries is not null)
        {
            if (sessionConfigEntries.TryGetValue(AllowSpinningKey, out var spin))
            {
                spinning = spin.Trim() == "1";
            }

            if (sessionConfigEntries.TryGetValue(DynamicBlockBaseKey, out var block))
            {
                blocks = int.TryParse(block, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) && b > 0 ? b : 0;
            }
        }

        return new CpuThreading
        {
            IntraOpThreads = intra,
            InterOpThreads = interOpThreads ?? 0,
            AllowSpinning = spinning,
            DynamicBlockBase = blocks,
            AvailableCores = availableCores,
            Source = intraOpThreads switch
            {
                null => "cores available",
                0 => "IntraOpNumThreads = 0 (ONNX Runtime's default)",
                _ => "IntraOpNumThreads",
            },
        };
    }

    /// <summary>The session config entries this choice sets: <see cref="AllowSpinningKey"/> always, <see cref="DynamicBlockBaseKey"/> when not 0.</summary>
    /// <returns>A new dictionary of key and value.</returns>
    public Dictionary<string, string> SessionConfigEntries()
    {
        var entries = new Dictionary<string, string>(StringComparer.Ordinal) { [AllowSpinningKey] = AllowSpinning ? "1" : "0" };
        if (DynamicBlockBase > 0)
        {
            entries[DynamicBlockBaseKey] = DynamicBlockBase.ToString(CultureInfo.InvariantCulture);
        }

        return entries;
    }

    /// <summary>One line for <c>inspect</c>, <c>providers</c> and the benchmark, e.g. <c>2 intra-op threads (cores available: 2), sequential, no spinning, dynamic blocks (base 4)</c>.</summary>
    public override string ToString()
    {
        var intra = IntraOpThreads == 0 ? "ONNX Runtime's default intra-op threads" : IntraOpThreads.ToString(CultureInfo.InvariantCulture) + " intra-op thread" + (IntraOpThreads == 1 ? "" : "s");
        var source = Source == "cores available" ? $"cores available: {AvailableCores}" : $"{Source}; cores available: {AvailableCores}";
        var inter = InterOpThreads == 0 ? "sequential" : $"{InterOpThreads} inter-op threads";
        var blocks = DynamicBlockBase > 0 ? $", dynamic blocks (base {DynamicBlockBase.ToString(CultureInfo.InvariantCulture)})" : string.Empty;
        return $"{intra} ({source}), {inter}, {(AllowSpinning ? "spinning" : "no spinning")}{blocks}";
    }
}
