namespace OnnxGpt.GenAI;

/// <summary>
/// Settings of the onnxruntime-genai backend that <see cref="Generation.GptOptions"/> has no place for: LoRA adapters and
/// raw <c>genai_config.json</c> overrides. Everything else (model path, execution providers, threads, generation
/// defaults) comes from the model's <see cref="Generation.GptOptions"/>.
/// </summary>
public sealed class GenAIOptions
{
    /// <summary>
    /// LoRA adapters (<c>.onnx_adapter</c> files made by onnxruntime-genai's model builder) to load with the model.
    /// A request picks one by name with <see cref="GenAIRequestOptions.Adapter"/>, else <see cref="DefaultAdapter"/> applies.
    /// </summary>
    public IList<GenAIAdapterOptions> Adapters { get; } = new List<GenAIAdapterOptions>();

    /// <summary>The name of the adapter (from <see cref="Adapters"/>) that requests use when they name none; null: the base model.</summary>
    public string? DefaultAdapter { get; set; }

    /// <summary>
    /// JSON merged over the folder's <c>genai_config.json</c> before the model loads (onnxruntime-genai's
    /// <c>Config.Overlay</c>), for settings OnnxGpt does not map, e.g.
    /// <c>{"model":{"decoder":{"session_options":{"enable_profiling":"prof"}}}}</c>. Null: none.
    /// </summary>
    public string? ConfigOverlay { get; set; }
}
