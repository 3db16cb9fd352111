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
    TimingsJson Timings,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<TokenJson>? Tokens = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] SpeculationJson? Speculation = null)
{
    public static GenerateJson From(GenerationResult result, IReadOnlyList<TokenJson>? tokens = null) => new(
        result.Text,
        result.PromptTokenIds,
        result.TokenIds,
        result.FinishReason.ToString(),
        result.ExecutionProvider,
        result.PromptTokenCount,
        result.GeneratedTokenCount,
        new TimingsJson(Math.Round(result.TimeToFirstToken.TotalMilliseconds, 3), Math.Round(result.TokensPerSecond, 3)),
        tokens,
        result.DraftedTokenCount > 0 ? new SpeculationJson(result.DraftedTokenCount, result.AcceptedDraftTokenCount) : null);
}

/// <summary>Speculative decoding's counts in <see cref="GenerateJson"/> (present when tokens were drafted).</summary>
internal sealed record SpeculationJson(int DraftedTokens, int AcceptedDraftTokens);

/// <summary>One generated token in <see cref="GenerateJson"/> (with --top-logprobs): its own text, log-probability and the alternatives.</summary>
internal sealed record TokenJson(int Id, string Text, float? Logprob, IReadOnlyList<TopLogprobJson> TopLogprobs)
{
    public static TokenJson From(GeneratedToken token, OnnxGpt.Tokenization.GptTokenizer? tokenizer)
    {
        var alternatives = new List<TopLogprobJson>();
        foreach (var alternative in token.TopLogprobs ?? [])
        {
            alternatives.Add(new TopLogprobJson(alternative.Id, alternative.Text, alternative.Logprob));
        }

        return new TokenJson(token.Id, tokenizer is null ? string.Empty : tokenizer.Decode([token.Id]), token.Logprob, alternatives);
    }
}

/// <summary>An alternative in <see cref="TokenJson"/>.</summary>
internal sealed record TopLogprobJson(int Id, string Text, float Logprob);

/// <summary>What <c>next-token --json</c> prints: every allowed token (ordered by id) with its probability, and the top N.</summary>
internal sealed record NextTokenJson(
    IReadOnlyList<int> PromptTokenIds,
    bool Sampling,
    int VocabularySize,
    IReadOnlyList<int> Allowed,
    IReadOnlyList<float> Probs,
    IReadOnlyList<NextTokenTopJson> Top);

/// <summary>An entry of <see cref="NextTokenJson.Top"/>.</summary>
internal sealed record NextTokenTopJson(int Id, string Text, float Prob, float Logprob);

/// <summary>The timings in <see cref="GenerateJson"/>.</summary>
internal sealed record TimingsJson(double TimeToFirstTokenMs, double TokensPerSecond);

/// <summary>What <c>tokenize --json</c> prints.</summary>
/// <param name="Ids">The token ids.</param>
/// <param name="Tokens">Each id's vocabulary piece, as Hugging Face's <c>convert_ids_to_tokens</c> (for example <c>Ġworld</c>, <c>▁the</c>); null where the tokenizer keeps none.</param>
/// <param name="Texts">The text each id decodes to on its own.</param>
internal sealed record TokenizeJson(IReadOnlyList<int> Ids, IReadOnlyList<string?> Tokens, IReadOnlyList<string> Texts);

/// <summary>What <c>chat-template --json</c> prints: the rendered prompt and the ids the model receives.</summary>
internal sealed record ChatTemplateJson(string Text, IReadOnlyList<int> Ids);

/// <summary>Source-generated serialization for the CLI's JSON output: camelCase, one line.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(GenerateJson))]
[JsonSerializable(typeof(List<GenerateJson>))]
[JsonSerializable(typeof(TokenizeJson))]
[JsonSerializable(typeof(ChatTemplateJson))]
[JsonSerializable(typeof(InspectJson))]
[JsonSerializable(typeof(NextTokenJson))]
[JsonSerializable(typeof(OnnxGpt.Providers.ExecutionProviderReport))]
[JsonSerializable(typeof(SoakReport))]
[JsonSerializable(typeof(QuantizeJson))]
[JsonSerializable(typeof(OptimizeJson))]
[JsonSerializable(typeof(PerplexityJson))]
internal sealed partial class CliJsonContext : JsonSerializerContext
{
    /// <summary>The context the CLI writes with: like <see cref="JsonSerializerContext.Options"/>, but leaving quotes and non-ASCII text readable.</summary>
    public static CliJsonContext Output { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
