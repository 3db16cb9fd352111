using Microsoft.Extensions.Logging;
using OnnxGpt.Models;
using OnnxGpt.Generation;

namespace OnnxGpt.Generation.Speculation;

/// <summary>Loads a draft model for speculative decoding and checks that it speaks the target's tokens.</summary>
internal static class DraftModels
{
    /// <summary>Texts whose ids the draft's tokenizer must give exactly as the target's.</summary>
    private static readonly string[] Probes = ["The quick brown fox, 1234!", "ROMEO:\nO, she doth teach the torches to burn bright.", " hello  world\t\u00e9t\u00e9"];

    /// <summary>Loads <paramref name="path"/> on the target's providers and threads; fails when its tokens differ.</summary>
    /// <exception cref="ModelLoadException">The draft cannot be loaded, has no KV cache, or its vocabulary or token ids differ from the target's.</exception>
    public static GptModel Load(GptModel target, string path, ILoggerFactory? loggerFactory)
    {
        var options = new GptOptions
        {
            ModelPath = path,
            IntraOpNumThreads = target.Options.IntraOpNumThreads,
            RequireExecutionProvider = target.Options.RequireExecutionProvider,
            EnableBatching = false,
            MaxKeptConversations = 0,
        };
        foreach (var provider in target.Options.ExecutionProviders)
        {
            options.ExecutionProviders.Add(provider);
        }

        var draft = GptModel.Load(options, loggerFactory);
        try
        {
            if (Mismatch(target, draft) is { } problem)
            {
                throw new ModelLoadException(path, $"it cannot draft for '{target.Info.ModelPath}': {problem}. A draft model needs the target's tokenizer (the same vocabulary and ids) and a KV cache; set GptOptions.DraftModelPath to such a model, or leave it unset.");
            }

            return draft;
        }
        catch
        {
            draft.Dispose();
            throw;
        }
    }

    /// <summary>Why <paramref name="draft"/> cannot draft for <paramref name="target"/>, or null when it can.</summary>
    internal static string? Mismatch(GptModel target, GptModel draft)
    {
        if (draft.Layout.Convention == KvCacheConvention.None)
        {
            return "it has no KV cache";
        }

        if (draft.Info.VocabularySize != target.Info.VocabularySize)
        {
            return $"its vocabulary has {draft.Info.VocabularySize} tokens, the target's {target.Info.VocabularySize}";
        }

        if (!draft.Info.EosTokenIds.SequenceEqual(target.Info.EosTokenIds))
        {
            return $"its end-of-sequence ids [{string.Join(", ", draft.Info.EosTokenIds)}] differ from the target's [{string.Join(", ", target.Info.EosTokenIds)}]";
        }

        if (target.Tokenizer is { } expected && draft.Tokenizer is { } actual)
        {
            foreach (var probe in Probes)
            {
                var want = expected.Encode(probe, addSpecialTokens: false);
                var got = actual.Encode(probe, addSpecialTokens: false);
                if (!want.SequenceEqual(got))
                {
                    return $"its tokenizer gives [{string.Join(", ", got)}] for \"{probe}\" where the target's gives [{string.Join(", ", want)}]";
                }
            }
        }
        else if ((target.Tokenizer is null) != (draft.Tokenizer is null))
        {
            return target.Tokenizer is null ? "it has a tokenizer and the target has none" : "it has no tokenizer";
        }

        return null;
    }
}
