using System.Globalization;

namespace OnnxGpt.Providers;

/// <summary>
/// The CPU threads an ONNX Runtime session of a model runs with, and why. Unless configured, OnnxGpt uses one
/// intra-op thread per core the process may run on (<see cref="Environment.ProcessorCount"/>: the affinity mask and
/// the cgroup CPU quota, rounded up, whichever is smaller), runs operators sequentially, and lets idle pool threads
/// spin briefly. ONNX Runtime's own default is one thread per physical core as its cpuinfo counts them, which falls
/// back to half the logical processors where cpuinfo fails (one thread on a 2-vCPU VM).
/// </summary>
public sealed record CpuThreading
{
    /// <summary>Threads within one operator (the caller's thread included); 0 means ONNX Runtime's own default.</summary>
    public required int IntraOpThreads { get; init; }

    /// <summary>Threads across operators; 0 means sequential execution (one operator at a time), the right mode for a decoder's chain of nodes.</summary>
    public required int InterOpThreads { get; init; }

    /// <summary>Whether idle intra-op threads spin before sleeping (ONNX Runtime's <c>session.intra_op.allow_spinning</c>).</summary>
    public required bool AllowSpinning { get; init; }

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
    public static CpuThreading Choose(int? intraOpThreads, int? interOpThreads, int availableCores)
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
        return new CpuThreading
        {
            IntraOpThreads = intra,
            InterOpThreads = interOpThreads ?? 0,
            // Spinning is what makes a step's many small operators cheap to hand out; with a single thread there is nobody to spin.
            AllowSpinning = intra != 1,
            AvailableCores = availableCores,
            Source = intraOpThreads switch
            {
                null => "cores available",
                0 => "IntraOpNumThreads = 0 (ONNX Runtime's default)",
                _ => "IntraOpNumThreads",
            },
        };
    }

    /// <summary>One line for <c>inspect</c>, <c>providers</c> and the benchmark, e.g. <c>2 intra-op threads (cores available: 2), sequential, spinning</c>.</summary>
    public override string ToString()
    {
        var intra = IntraOpThreads == 0 ? "ONNX Runtime's default intra-op threads" : IntraOpThreads.ToString(CultureInfo.InvariantCulture) + " intra-op thread" + (IntraOpThreads == 1 ? "" : "s");
        var source = Source == "cores available" ? $"cores available: {AvailableCores}" : $"{Source}; cores available: {AvailableCores}";
        var inter = InterOpThreads == 0 ? "sequential" : $"{InterOpThreads} inter-op threads";
        return $"{intra} ({source}), {inter}, {(AllowSpinning ? "spinning" : "no spinning")}";
    }
}
