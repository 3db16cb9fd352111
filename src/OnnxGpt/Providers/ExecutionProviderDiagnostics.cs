using Microsoft.ML.OnnxRuntime;

namespace OnnxGpt.Providers;

/// <summary>
/// Finds out which execution providers really work on this machine, by creating a session with each one
/// (<see cref="OrtEnv.GetAvailableProviders"/> lists providers the natives were built with, even when their
/// libraries cannot load).
/// </summary>
public static class ExecutionProviderDiagnostics
{
    private static readonly string[] Known = [ExecutionProviderOptions.Cpu, ExecutionProviderOptions.Cuda, ExecutionProviderOptions.DirectML];

    /// <summary>Tries each provider and reports what loads.</summary>
    /// <param name="graphPath">An ONNX graph to create sessions for (a small one is best); null checks only that each provider can be appended.</param>
    /// <returns>The report.</returns>
    public static ExecutionProviderReport Diagnose(string? graphPath = null)
    {
        var env = OrtEnv.Instance();
        var statuses = Known.Select(name => Probe(name, graphPath)).ToList();
        IReadOnlyList<string> devices;
        try
        {
            devices = [.. env.GetEpDevices().Select(d => $"{d.EpName} on {d.HardwareDevice.Type} ({d.HardwareDevice.Vendor})")];
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException)
        {
            devices = [$"(this ONNX Runtime cannot list devices: {ex.Message.Trim()})"];
        }

        return new ExecutionProviderReport
        {
            OnnxRuntimeVersion = env.GetVersionString(),
            NativePackage = DetectNativePackage(),
            BuiltWith = env.GetAvailableProviders(),
            Providers = statuses,
            CpuThreads = CpuThreading.Default.ToString(),
            Devices = devices,
        };
    }

    private static ExecutionProviderStatus Probe(string name, string? graphPath)
    {
        using var options = SessionFactory.CreateSessionOptions(new ExecutionProviderOptions(name), name, null, out var failure);
        if (options is null)
        {
            return new(name, false, SessionFactory.Describe(name, failure));
        }

        if (graphPath is null)
        {
            return new(name, true, null);
        }

        try
        {
            using var session = new InferenceSession(graphPath, options);
            return new(name, true, null);
        }
        catch (OnnxRuntimeException ex)
        {
            return new(name, false, SessionFactory.Describe(name, ex));
        }
    }

    private static string DetectNativePackage()
    {
        var folders = new List<string> { AppContext.BaseDirectory };
        var runtimes = Path.Combine(AppContext.BaseDirectory, "runtimes");
        if (Directory.Exists(runtimes))
        {
            folders.AddRange(Directory.GetDirectories(runtimes, "native", SearchOption.AllDirectories));
        }

        bool Has(string pattern) => folders.Any(f => Directory.GetFiles(f, pattern).Length > 0);
        if (Has("*onnxruntime_providers_cuda*"))
        {
            return "Microsoft.ML.OnnxRuntime.Gpu (CUDA)";
        }

        if (Has("DirectML.dll"))
        {
            return "Microsoft.ML.OnnxRuntime.DirectML";
        }

        return Has("*onnxruntime*") ? "Microsoft.ML.OnnxRuntime (CPU)" : "unknown (no ONNX Runtime native library beside the application)";
    }
}
