namespace OnnxGpt.AspNetCore;

/// <summary>A model <c>MapOpenAIEndpoints</c> serves: the id clients send as <c>model</c>, and the registration behind it.</summary>
/// <param name="Id">The id in <c>/v1/models</c> and in requests' <c>model</c> (compared ignoring case).</param>
/// <param name="ServiceKey">The key given to <c>AddKeyedGpt</c>; null for the default <c>AddGpt</c> registration.</param>
public sealed record OpenAIServedModel(string Id, string? ServiceKey = null);
