using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace OnnxGpt.Providers;

/// <summary>Creates the ONNX Runtime session on the first execution provider, in the user's order, that works here.</summary>
internal static partial class SessionFactory
{
    /// <summary>The session, and the provider that serves it.</summary>
    /// <param name="graphPath">The graph file.</param>
    /// <param name="graph">The graph rewritten in memory (<see cref="Models.GraphRewriter"/>), loaded instead of the file; its external data is read beside <paramref name="graphPath"/>.</param>
    /// <param name="modelPath">The model path as given, for messages.</param>
    /// <param name="providers">The providers to try, in order.</param>
    /// <param name="intraOpThreads">The model-wide thread count, or null.</param>
    /// <param name="logger">Where a fallback is logged.</param>
    /// <param name="requireFirst">Fail instead of falling back.</param>
    public static (InferenceSession Session, string Provider) Create(
        string graphPath,
        byte[]? graph,
        string modelPath,
        IReadOnlyList<ExecutionProviderOptions> providers,
        int? intraOpThreads,
        ILogger logger,
        bool requireFirst = false)
    {
        if (providers.Count == 0)
        {
            providers = [new ExecutionProviderOptions(ExecutionProviderOptions.Cpu)];
        }

        var failures = new List<KeyValuePair<string, string>>();
        for (var index = 0; index < providers.Count; index++)
        {
            var provider = providers[index];
            var name = ExecutionProviderOptions.Normalize(provider.Name)
                ?? throw new ArgumentException($"Unknown execution provider '{provider.Name}'; use {ExecutionProviderOptions.Cuda}, {ExecutionProviderOptions.DirectML} or {ExecutionProviderOptions.Cpu}.", nameof(providers));

            var options = CreateSessionOptions(provider, name, intraOpThreads, out var appendFailure);
            try
            {
                if (options is not null)
                {
                    // ONNX Runtime writes its warnings to stderr, past the host's ILogger (for example the benign one about
                    // the overridable num_logits_to_keep that onnxgpt optimize adds): shown only to a host logging at Debug.
                    options.LogSeverityLevel = logger.IsEnabled(LogLevel.Debug) ? OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING : OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
                }

                if (appendFailure is null)
                {
                    if (graph is not null && !provider.SessionConfigEntries.ContainsKey(ExternalDataFolderKey))
                    {
                        options!.AddSessionConfigEntry(ExternalDataFolderKey, Path.GetDirectoryName(Path.GetFullPath(graphPath))!);
                    }

                    if (name == ExecutionProviderOptions.Cpu)
                    {
                        return (CreateCpu(graphPath, graph, modelPath, options!), name);
                    }

                    return (Open(graphPath, graph, options!), name);
                }
            }
            catch (OnnxRuntimeException ex)
            {
                appendFailure = ex;
            }
            finally
            {
                options?.Dispose();
            }

            var reason = Describe(name, appendFailure);
            failures.Add(new(provider.ToString(), reason));
            if (requireFirst || index == providers.Count - 1)
            {
                // Nothing else will be tried: the exception carries every reason, so nothing is logged twice.
                throw new ExecutionProviderException(failures, required: requireFirst);
            }

            Log.ProviderFailed(logger, provider.ToString(), modelPath, reason);
        }

        throw new UnreachableException();
    }

    /// <summary>
    /// Session options with <paramref name="provider"/> appended, or null with the reason when this build of
    /// ONNX Runtime cannot append it (no such provider, or a library it needs is missing).
    /// </summary>
    internal static SessionOptions? CreateSessionOptions(ExecutionProviderOptions provider, string name, int? intraOpThreads, out Exception? failure)
    {
        failure = null;
        var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        try
        {
            var threading = Threading(provider, intraOpThreads);
            if (threading.IntraOpThreads > 0)
            {
                options.IntraOpNumThreads = threading.IntraOpThreads;
            }

            if (threading.InterOpThreads > 0)
            {
                options.InterOpNumThreads = threading.InterOpThreads;
                options.ExecutionMode = ExecutionMode.ORT_PARALLEL;
            }

            // The user's entries win; each key is added once (ONNX Runtime warns on stderr when a key is added twice).
            foreach (var (key, value) in threading.SessionConfigEntries())
            {
                if (!provider.SessionConfigEntries.ContainsKey(key))
                {
                    options.AddSessionConfigEntry(key, value);
                }
            }

            if (provider.EnableCpuMemArena is { } arena)
            {
                options.EnableCpuMemArena = arena;
            }

            foreach (var (key, value) in provider.SessionConfigEntries)
            {
                options.AddSessionConfigEntry(key, value);
            }

            switch (name)
            {
                case ExecutionProviderOptions.Cuda:
                    using (var cuda = new OrtCUDAProviderOptions())
                    {
                        cuda.UpdateOptions(provider.CudaProviderOptions());
                        options.AppendExecutionProvider_CUDA(cuda);
                    }

                    break;
                case ExecutionProviderOptions.DirectML:
                    options.AppendExecutionProvider_DML(provider.DeviceId);
                    break;
            }

            return options;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException or OnnxRuntimeException or TypeInitializationException)
        {
            options.Dispose();
            failure = ex;
            return null;
        }
    }

    /// <summary>The CPU threading a session for <paramref name="provider"/> gets: the entry's own thread counts win over the model-wide <paramref name="intraOpThreads"/>.</summary>
    internal static CpuThreading Threading(ExecutionProviderOptions provider, int? intraOpThreads) =>
        CpuThreading.Choose(provider.IntraOpNumThreads ?? intraOpThreads, provider.InterOpNumThreads, CpuThreading.CoresAvailable, provider.SessionConfigEntries);

    /// <summary>One sentence saying why a provider cannot run here, naming the missing library where ONNX Runtime does.</summary>
    internal static string Describe(string provider, Exception? ex)
    {
        var message = ex?.Message.Trim() ?? "unknown error";
        if (ex is EntryPointNotFoundException || message.Contains("not enabled in this build", StringComparison.OrdinalIgnoreCase))
        {
            return $"the ONNX Runtime natives in use were built without the {provider} provider (the CPU-only Microsoft.ML.OnnxRuntime package has neither CUDA nor DirectML); "
                + (provider == ExecutionProviderOptions.DirectML
                    ? "reference Microsoft.ML.OnnxRuntime.DirectML on Windows instead"
                    : "reference Microsoft.ML.OnnxRuntime.Gpu instead (in this repository: build with -p:OnnxGptRuntime=Cuda)");
        }

        var missing = MissingLibraryRegex().Match(message);
        if (missing.Success)
        {
            return $"a library it needs cannot be loaded: {missing.Groups["lib"].Value} (install CUDA 13 and cuDNN 9, or add their folder to the library path). ONNX Runtime said: {message}";
        }

        return ex is DllNotFoundException ? $"a native library is missing ({message})" : message;
    }

    /// <summary>Where ONNX Runtime reads external data for a graph loaded from bytes.</summary>
    private const string ExternalDataFolderKey = "session.model_external_initializers_file_folder_path";

    private static InferenceSession Open(string graphPath, byte[]? graph, SessionOptions options) =>
        graph is null ? new InferenceSession(graphPath, options) : new InferenceSession(graph, options);

    private static InferenceSession CreateCpu(string graphPath, byte[]? graph, string modelPath, SessionOptions options)
    {
        try
        {
            return Open(graphPath, graph, options);
        }
        catch (OnnxRuntimeException ex)
        {
            // On the CPU, a failure is the graph's fault, not the provider's.
            throw new ModelLoadException(modelPath, $"ONNX Runtime cannot load '{Path.GetFileName(graphPath)}' ({ex.Message.Trim()}). Check that it is a complete ONNX graph and that any external data file beside it is present.", ex);
        }
    }

    [GeneratedRegex(@"(?<lib>[\w.+-]+\.(?:so[\w.]*|dll|dylib)): cannot open shared object file|error (?:code )?126.*?(?<lib>[\w.+-]+\.dll)")]
    private static partial Regex MissingLibraryRegex();
}
