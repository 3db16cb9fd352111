namespace OnnxGpt.Sampling;

/// <summary>
/// A built-in stage that keeps scratch buffers: placed in shared options (<c>GptOptions.Generation.CustomStages</c>),
/// it is copied for each request, so that concurrent requests never write each other's scratch.
/// </summary>
internal interface IRequestScopedStage
{
    /// <summary>A new stage with the same settings and its own scratch.</summary>
    ISamplingStage ForRequest();
}
