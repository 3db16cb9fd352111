using System.ComponentModel;

namespace OnnxGpt.Providers;

/// <summary>
/// One entry of <see cref="Generation.GptOptions.ExecutionProviders"/>: an ONNX Runtime execution provider and its settings.
/// In configuration an entry is either an object (<c>{ "Name": "Cuda", "DeviceId": 0 }</c>) or just the name (<c>"Cpu"</c>).
/// </summary>
[TypeConverter(typeof(ExecutionProviderOptionsConverter))]
public sealed class ExecutionProviderOptions
{
    /// <summary>The name of the CPU provider.</summary>
    public const string Cpu = "Cpu";

    /// <summary>The name of the CUDA provider (needs the Microsoft.ML.OnnxRuntime.Gpu natives, CUDA and cuDNN).</summary>
    public const string Cuda = "Cuda";

    /// <summary>The name of the DirectML provider (Windows; needs the Microsoft.ML.OnnxRuntime.DirectML natives).</summary>
    public const string DirectML = "DirectML";

    /// <summary>Creates an entry with no name; set <see cref="Name"/>.</summary>
    public ExecutionProviderOptions()
    {
    }

    /// <summary>Creates an entry for the named provider.</summary>
    /// <param name="name"><see cref="Cpu"/>, <see cref="Cuda"/> or <see cref="DirectML"/>.</param>
    public ExecutionProviderOptions(string name) => Name = name;

    /// <summary>The provider: <see cref="Cpu"/>, <see cref="Cuda"/> or <see cref="DirectML"/> (case-insensitive).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The device to run on, for GPU providers (default 0).</summary>
    public int DeviceId { get; set; }

    /// <summary>CUDA: the most bytes the provider's memory arena may take on the device (<c>gpu_mem_limit</c>). Null: no limit.</summary>
    public long? GpuMemoryLimit { get; set; }

    /// <summary>CUDA: how the arena grows, <c>kNextPowerOfTwo</c> or <c>kSameAsRequested</c> (<c>arena_extend_strategy</c>).</summary>
    public string? ArenaExtendStrategy { get; set; }

    /// <summary>CUDA: how cuDNN picks convolution algorithms, <c>EXHAUSTIVE</c>, <c>HEURISTIC</c> or <c>DEFAULT</c> (<c>cudnn_conv_algo_search</c>).</summary>
    public string? CudnnConvAlgoSearch { get; set; }

    /// <summary>CUDA: copy on the default stream (<c>do_copy_in_default_stream</c>).</summary>
    public bool? CopyInDefaultStream { get; set; }

    /// <summary>CPU: threads within one operator; overrides <see cref="Generation.GptOptions.IntraOpNumThreads"/> when this provider serves. Null: that setting, else one per available core (<see cref="CpuThreading"/>); 0: ONNX Runtime's default.</summary>
    public int? IntraOpNumThreads { get; set; }

    /// <summary>CPU: threads across operators (parallel execution). Null or 0: sequential execution, one operator at a time.</summary>
    public int? InterOpNumThreads { get; set; }

    /// <summary>CPU: whether ONNX Runtime keeps a memory arena for CPU tensors. Null: ONNX Runtime's default (on).</summary>
    public bool? EnableCpuMemArena { get; set; }

    /// <summary>
    /// ONNX Runtime session configuration entries (<c>session.*</c> keys of its <c>onnxruntime_session_options_config_keys.h</c>,
    /// e.g. <c>session.intra_op.allow_spinning</c>) added after OnnxGpt's own, so an entry here overrides OnnxGpt's choice.
    /// Empty by default.
    /// </summary>
    public Dictionary<string, string> SessionConfigEntries { get; } = new(StringComparer.Ordinal);

    /// <summary>Lists what is wrong with this entry, for the options validator; empty when it is valid.</summary>
    internal IEnumerable<string> GetErrors()
    {
        var name = Normalize(Name);
        if (name is null)
        {
            yield return $"'{Name}' is not a known provider; use {Cuda}, {DirectML} or {Cpu}.";
            yield break;
        }

        if (DeviceId < 0)
        {
            yield return $"{name} DeviceId must be 0 or more, but was {DeviceId}.";
        }

        if (GpuMemoryLimit is <= 0)
        {
            yield return $"{name} GpuMemoryLimit must be more than 0 bytes, but was {GpuMemoryLimit}.";
        }

        if (ArenaExtendStrategy is not (null or "kNextPowerOfTwo" or "kSameAsRequested"))
        {
            yield return $"{name} ArenaExtendStrategy must be kNextPowerOfTwo or kSameAsRequested, but was '{ArenaExtendStrategy}'.";
        }

        if (CudnnConvAlgoSearch is not (null or "EXHAUSTIVE" or "HEURISTIC" or "DEFAULT"))
        {
            yield return $"{name} CudnnConvAlgoSearch must be EXHAUSTIVE, HEURISTIC or DEFAULT, but was '{CudnnConvAlgoSearch}'.";
        }

        if (IntraOpNumThreads is < 0 || InterOpNumThreads is < 0)
        {
            yield return $"{name} thread counts must be 0 (ONNX Runtime's default) or more.";
        }

        foreach (var key in SessionConfigEntries.Keys)
        {
            if (string.IsNullOrWhiteSpace(key))
            {
                yield return $"{name} SessionConfigEntries has an empty key.";
            }
        }

        var cudaOnly = GpuMemoryLimit is not null || ArenaExtendStrategy is not null || CudnnConvAlgoSearch is not null || CopyInDefaultStream is not null;
        if (cudaOnly && name != Cuda)
        {
            yield return $"{name}: GpuMemoryLimit, ArenaExtendStrategy, CudnnConvAlgoSearch and CopyInDefaultStream apply to {Cuda} only.";
        }

        var cpuOnly = IntraOpNumThreads is not null || InterOpNumThreads is not null || EnableCpuMemArena is not null;
        if (cpuOnly && name != Cpu)
        {
            yield return $"{name}: IntraOpNumThreads, InterOpNumThreads and EnableCpuMemArena apply to {Cpu} only.";
        }
    }

    /// <summary>The CUDA provider options ONNX Runtime (and onnxruntime-genai) take, as key/value pairs (<c>device_id</c>, <c>gpu_mem_limit</c>...).</summary>
    /// <returns>A new dictionary of the options this entry sets.</returns>
    public Dictionary<string, string> CudaProviderOptions()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["device_id"] = DeviceId.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (GpuMemoryLimit is { } limit)
        {
            result["gpu_mem_limit"] = limit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (ArenaExtendStrategy is { } strategy)
        {
            result["arena_extend_strategy"] = strategy;
        }

        if (CudnnConvAlgoSearch is { } search)
        {
            result["cudnn_conv_algo_search"] = search;
        }

        if (CopyInDefaultStream is { } copy)
        {
            result["do_copy_in_default_stream"] = copy ? "1" : "0";
        }

        return result;
    }

    /// <summary>The canonical spelling of a provider name (<see cref="Cpu"/>, <see cref="Cuda"/>, <see cref="DirectML"/>, from any case or ONNX Runtime's own names), or null when it is unknown.</summary>
    /// <param name="name">The name as configured.</param>
    /// <returns>The canonical name, or null.</returns>
    public static string? Normalize(string? name) => name?.Trim().ToUpperInvariant() switch
    {
        "CPU" or "CPUEXECUTIONPROVIDER" => Cpu,
        "CUDA" or "CUDAEXECUTIONPROVIDER" => Cuda,
        "DIRECTML" or "DML" or "DMLEXECUTIONPROVIDER" => DirectML,
        _ => null,
    };

    /// <inheritdoc />
    public override string ToString() => DeviceId == 0 ? Name : $"{Name}:{DeviceId}";
}
