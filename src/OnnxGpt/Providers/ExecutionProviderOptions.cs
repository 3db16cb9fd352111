using System.ComponentModel;

namespace OnnxGpt.Providers;

/// <summary>
/// One entry of <see cref="Hosting.GptOptions.ExecutionProviders"/>: an ONNX Runtime execution provider and its settings.
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

    /// <summary>Whether <see cref="Name"/> is one of the providers OnnxGpt knows.</summary>
    internal bool IsKnown => Normalize(Name) is not null;

    /// <summary>The canonical spelling of a provider name, or null when it is unknown.</summary>
    internal static string? Normalize(string? name) => name?.Trim().ToUpperInvariant() switch
    {
        "CPU" or "CPUEXECUTIONPROVIDER" => Cpu,
        "CUDA" or "CUDAEXECUTIONPROVIDER" => Cuda,
        "DIRECTML" or "DML" or "DMLEXECUTIONPROVIDER" => DirectML,
        _ => null,
    };

    /// <inheritdoc />
    public override string ToString() => DeviceId == 0 ? Name : $"{Name}:{DeviceId}";
}
