using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OnnxGpt.Models;
using OnnxGpt.Tokenization;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt inspect</c>: prints what the loader found in a model folder.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var variant = CommonOptions.Variant();
        var providers = CommonOptions.ExecutionProviders();
        var json = CommonOptions.Json();
        var command = new Command("inspect", "Print what the loader found: graph and its variants, convention, layers, heads, cache type, context, vocabulary, tokenizer, defaults.")
        {
            model, variant, providers, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            using var loggerFactory = ModelLoader.CreateLoggerFactory(r.GetValue(CommonOptions.Verbose), r.InvocationConfiguration.Error);
            using var loaded = ModelLoader.Load(r.GetValue(model), r.GetValue(variant), r.GetValue(providers), loggerFactory);
            var stdout = r.InvocationConfiguration.Output;
            var report = InspectJson.From(loaded);
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(report, CliJsonContext.Output.InspectJson));
            }
            else
            {
                foreach (var (key, value) in report.Lines())
                {
                    await stdout.WriteLineAsync($"{key,-20} {value}");
                }
            }

            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>What <c>inspect --json</c> prints.</summary>
internal sealed record InspectJson(
    string Model,
    string Graph,
    string? Variant,
    IReadOnlyList<string> Variants,
    string GraphFormat,
    IReadOnlyList<string> GraphRewrites,
    string Convention,
    int Layers,
    int? AttentionHeads,
    int KeyValueHeads,
    int HeadSize,
    string ElementType,
    int ContextLength,
    int Vocabulary,
    bool PositionIds,
    int? BosTokenId,
    IReadOnlyList<int> EosTokenIds,
    string? Tokenizer,
    string ExecutionProvider,
    string CacheLocation,
    string Threads,
    GenerationDefaults Defaults,
    TokenizerDescription? TokenizerPipeline)
{
    public static InspectJson From(GptModel model)
    {
        var i = model.Info;
        return new(
            i.ModelPath,
            i.GraphPath,
            i.Variant,
            i.Variants,
            i.GraphFormat,
            i.GraphRewrites,
            i.CacheConvention.ToString(),
            i.LayerCount,
            i.AttentionHeads,
            i.KeyValueHeads,
            i.HeadSize,
            i.CacheElementType,
            i.ContextLength,
            i.VocabularySize,
            i.HasPositionIds,
            i.BosTokenId,
            i.EosTokenIds,
            i.TokenizerKind,
            model.ExecutionProvider,
            model.CacheLocation,
            model.Threading.ToString(),
            i.Defaults,
            model.Tokenizer?.Description);
    }

    public IEnumerable<(string Key, string Value)> Lines()
    {
        var d = Defaults;
        string Or(object? value) => value is null ? "-" : Convert.ToString(value, CultureInfo.InvariantCulture)!;
        yield return ("model", Model);
        yield return ("graph", Graph);
        yield return ("variant", Or(Variant));
        yield return ("variants", Variants.Count == 0 ? "-" : string.Join(", ", Variants));
        yield return ("format", GraphFormat);
        yield return ("rewritten at load", GraphRewrites.Count == 0 ? "-" : string.Join(", ", GraphRewrites));
        yield return ("cache convention", Convention);
        yield return ("layers", Or(Layers));
        yield return ("attention heads", Or(AttentionHeads));
        yield return ("kv heads", Or(KeyValueHeads));
        yield return ("head size", Or(HeadSize));
        yield return ("element type", ElementType);
        yield return ("context length", Or(ContextLength));
        yield return ("vocabulary", Or(Vocabulary));
        yield return ("position ids", PositionIds ? "fed" : "derived by the graph");
        yield return ("bos / eos", $"{Or(BosTokenId)} / {(EosTokenIds.Count == 0 ? "-" : string.Join(",", EosTokenIds))}");
        yield return ("tokenizer", Tokenizer ?? "none (prompts must be token ids)");
        if (TokenizerPipeline is { } t)
        {
            yield return ("  normalizer", t.Normalizer);
            yield return ("  pre-tokenizer", t.PreTokenizer);
            yield return ("  post-processor", t.PostProcessor);
            yield return ("  decoder", t.Decoder);
            yield return ("  added tokens", Or(t.AddedTokenCount));
            yield return ("  token ids", Or(t.VocabularySize));
        }

        yield return ("execution provider", ExecutionProvider);
        yield return ("cache memory", CacheLocation);
        yield return ("cpu threads", Threads);
        yield return ("defaults", $"do_sample={Or(d.DoSample)} temperature={Or(d.Temperature)} top_k={Or(d.TopK)} top_p={Or(d.TopP)} min_p={Or(d.MinP)} repetition_penalty={Or(d.RepetitionPenalty)} max_length={Or(d.MaxLength)} max_new_tokens={Or(d.MaxNewTokens)}");
    }
}
