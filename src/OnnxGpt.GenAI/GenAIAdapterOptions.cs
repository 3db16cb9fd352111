namespace OnnxGpt.GenAI;

/// <summary>One LoRA adapter to load with the model (see <see cref="GenAIOptions.Adapters"/>).</summary>
public sealed class GenAIAdapterOptions
{
    /// <summary>Creates an entry; set <see cref="Name"/> and <see cref="Path"/>.</summary>
    public GenAIAdapterOptions()
    {
    }

    /// <summary>Creates an entry.</summary>
    /// <param name="name">The name requests use to pick the adapter.</param>
    /// <param name="path">The adapter file; a relative path is resolved against the model folder.</param>
    public GenAIAdapterOptions(string name, string path)
    {
        Name = name;
        Path = path;
    }

    /// <summary>The name requests use to pick the adapter (<see cref="GenAIRequestOptions.Adapter"/>).</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>The adapter file (<c>.onnx_adapter</c>); a relative path is resolved against the model folder.</summary>
    public string Path { get; set; } = string.Empty;
}
