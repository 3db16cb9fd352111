namespace OnnxGpt.Providers;

/// <summary>What <see cref="ExecutionProviderDiagnostics.Diagnose"/> found on this machine.</summary>
public sealed class ExecutionProviderReport
{
    /// <summary>The ONNX Runtime native library's version.</summary>
    public required string OnnxRuntimeVersion { get; init; }

    /// <summary>Which native package the application carries, judged from the native files beside it.</summary>
    public required string NativePackage { get; init; }

    /// <summary>The providers ONNX Runtime says it was built with (which does not prove they load: see <see cref="Providers"/>).</summary>
    public required IReadOnlyList<string> BuiltWith { get; init; }

    /// <summary>Each provider OnnxGpt can use, tried for real.</summary>
    public required IReadOnlyList<ExecutionProviderStatus> Providers { get; init; }

    /// <summary>The CPU threading a model gets here with nothing configured (<see cref="CpuThreading.Default"/>), as one line.</summary>
    public required string CpuThreads { get; init; }

    /// <summary>The devices ONNX Runtime sees, as "provider on device (vendor)".</summary>
    public required IReadOnlyList<string> Devices { get; init; }
}
