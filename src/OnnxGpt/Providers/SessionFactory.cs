using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace OnnxGpt.Providers;

/// <summary>Creates the ONNX Runtime session on the first execution provider, in the user's order, that works here.</summary>
internal static class SessionFactory
{
    public static (InferenceSession Session, string Provider) Create(
        string graphPath,
        string modelPath,
        IReadOnlyList<ExecutionProviderOptions> providers,
        int? intraOpThreads,
        ILogger logger)
    {
        if (providers.Count == 0)
        {
            providers = [new ExecutionProviderOptions(ExecutionProviderOptions.Cpu)];
        }

        var failures = new List<KeyValuePair<string, string>>();
        foreach (var provider in providers)
        {
            var name = ExecutionProviderOptions.Normalize(provider.Name)
                ?? throw new ArgumentException($"Unknown execution provider '{provider.Name}'; use {ExecutionProviderOptions.Cuda}, {ExecutionProviderOptions.DirectML} or {ExecutionProviderOptions.Cpu}.", nameof(providers));

            var options = new SessionOptions();
            try
            {
                options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL;
                if (intraOpThreads is > 0)
                {
                    options.IntraOpNumThreads = intraOpThreads.Value;
                }

                if (name == ExecutionProviderOptions.Cpu)
                {
                    return (CreateCpu(graphPath, modelPath, options), name);
                }

                AppendProvider(options, name, provider.DeviceId);
                return (new InferenceSession(graphPath, options), name);
            }
            catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException or OnnxRuntimeException or TypeInitializationException)
            {
                var reason = Describe(ex);
                Log.ProviderFailed(logger, provider.ToString(), modelPath, reason);
                failures.Add(new(provider.ToString(), reason));
            }
            finally
            {
                options.Dispose();
            }
        }

        throw new ExecutionProviderException(failures);
    }

    private static InferenceSession CreateCpu(string graphPath, string modelPath, SessionOptions options)
    {
        try
        {
            return new InferenceSession(graphPath, options);
        }
        catch (OnnxRuntimeException ex)
        {
            // On the CPU, a failure is the graph's fault, not the provider's.
            throw new Models.ModelLoadException(modelPath, $"ONNX Runtime cannot load '{Path.GetFileName(graphPath)}' ({ex.Message.Trim()}). Check that it is a complete ONNX graph and that any external data file beside it is present.", ex);
        }
    }

    private static void AppendProvider(SessionOptions options, string name, int deviceId)
    {
        switch (name)
        {
            case ExecutionProviderOptions.Cuda:
                options.AppendExecutionProvider_CUDA(deviceId);
                break;
            case ExecutionProviderOptions.DirectML:
                options.AppendExecutionProvider_DML(deviceId);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(name), name, "Unknown execution provider.");
        }
    }

    private static string Describe(Exception ex) => ex switch
    {
        EntryPointNotFoundException => "the ONNX Runtime natives in use were built without this provider (reference the provider's native package, e.g. Microsoft.ML.OnnxRuntime.Gpu, instead of the CPU one)",
        DllNotFoundException => $"a native library is missing ({ex.Message.Trim()})",
        _ => ex.Message.Trim(),
    };
}
