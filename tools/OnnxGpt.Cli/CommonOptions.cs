using System.CommandLine;

namespace OnnxGpt.Cli;

/// <summary>Options several commands share.</summary>
internal static class CommonOptions
{
    /// <summary>The embedded model, copied beside the executable.</summary>
    public static string DefaultModelPath => Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");

    /// <summary>--verbose: logs what the library does and shows whole exceptions. Applies to every command.</summary>
    public static Option<bool> Verbose { get; } = new("--verbose", "-v")
    {
        Description = "Log what is loaded and show the full exception on errors.",
        Recursive = true,
    };

    /// <summary>--model DIR.</summary>
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "The model folder (the graph in it or in its onnx/ subfolder, as Hugging Face ships it) or .onnx file. Default: the embedded tiny-shakespeare model.",
        HelpName = "DIR",
    };

    /// <summary>--variant NAME: which of the folder's graphs to run (model_NAME.onnx).</summary>
    public static Option<string?> Variant() => new("--variant")
    {
        Description = "The graph variant to run: fp16, q4, q4f16, quantized, int8, uint8, bnb4 or any NAME of a model_NAME.onnx in the folder or its onnx/ subfolder. Default: model.onnx.",
        HelpName = "NAME",
    };

    /// <summary>--execution-provider NAME (repeatable), in order of preference.</summary>
    public static Option<string[]> ExecutionProviders() => new("--execution-provider", "--ep")
    {
        Description = "An execution provider to try, in order (repeatable): Cpu, Cuda, DirectML. Default: Cpu. --verbose logs why one was skipped.",
        HelpName = "NAME",
    };

    /// <summary>--json.</summary>
    public static Option<bool> Json() => new("--json")
    {
        Description = "Print one JSON object instead of text.",
    };
}
