using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli;

/// <summary>What <c>generate --json</c> prints.</summary>
internal sealed record GenerateJson(
    string Text,
    IReadOnlyList<int> PromptTokenIds,
    IReadOnlyList<int> TokenIds,
    string FinishReason,
    string ExecutionProvider,
    int PromptTokenCount,
    int GeneratedTokenCount,
    TimingsJson Timings)
{
    public static GenerateJson From(GenerationResult result) => new(
        result.Text,
        result.PromptTokenIds,
        result.TokenIds,
        result.FinishReason.ToString(),
        result.ExecutionProvider,
        result.PromptTokenCount,
        result.GeneratedTokenCount,
        new TimingsJson(Math.Round(result.TimeToFirstToken.TotalMilliseconds, 3), Math.Round(result.TokensPerSecond, 3)));
}

/// <summary>The timings in <see cref="GenerateJson"/>.</summary>
internal sealed record TimingsJson(double TimeToFirstTokenMs, double TokensPerSecond);

/// <summary>What <c>tokenize --json</c> prints.</summary>
internal sealed record TokenizeJson(IReadOnlyList<int> Ids);

/// <summary>Source-generated serialization for the CLI's JSON output: camelCase, one line.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(GenerateJson))]
[JsonSerializable(typeof(TokenizeJson))]
[JsonSerializable(typeof(InspectJson))]
[JsonSerializable(typeof(OnnxGpt.Providers.ExecutionProviderReport))]
[JsonSerializable(typeof(SoakReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>The context the CLI writes with: like <see cref="JsonSerializerContext.Options"/>, but leaving quotes and non-ASCII text readable.</summary>
    public static CliJsonContext Output { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
