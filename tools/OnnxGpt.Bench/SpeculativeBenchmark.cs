using System.Diagnostics;
using OnnxGpt.Generation;

namespace OnnxGpt.Bench;

/// <summary>
/// Speculative decoding against plain greedy decoding on a copy task (a passage of the corpus followed by its first
/// tokens, so that the continuation repeats the passage), in one run: plain, prompt lookup and, with a draft model,
/// the draft, taking turns each round (medians over rounds). Every mode must give plain greedy's ids.
/// </summary>
public static class SpeculativeBenchmark
{
    /// <summary>Tokens of the passage repeated at the prompt's end.</summary>
    public const int RepeatedTokens = 10;

    /// <summary>Runs the modes.</summary>
    /// <param name="modelDirectory">The target model folder.</param>
    /// <param name="draftDirectory">A draft model folder (same tokenizer), or null for prompt lookup only.</param>
    /// <param name="corpusPath">A text file the passage comes from.</param>
    /// <param name="passageTokens">Tokens of the passage (cut to fit the context with the new tokens).</param>
    /// <param name="newTokens">Tokens generated per run (greedy).</param>
    /// <param name="promptLookup">Prompt lookup's bound (<see cref="GenerationOptions.PromptLookupTokens"/>).</param>
    /// <param name="draftTokens">The draft model's bound (<see cref="GenerationOptions.DraftTokens"/>); null: its default.</param>
    /// <param name="rounds">Measured rounds.</param>
    /// <param name="progress">Progress lines.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The report.</returns>
    public static async Task<SpeculativeReport> RunAsync(string modelDirectory, string? draftDirectory, string corpusPath, int passageTokens, int newTokens, int promptLookup, int? draftTokens, int rounds, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        using var model = GptModel.Load(new GptOptions { ModelPath = modelDirectory, DraftModelPath = draftDirectory, EnableBatching = false });
        var generator = GptGenerator.Create(model);
        var context = model.Info.ContextLength == int.MaxValue ? 4096 : model.Info.ContextLength;
        var passage = Math.Max(RepeatedTokens + 1, Math.Min(passageTokens, context - newTokens - RepeatedTokens - 1));
        var text = await File.ReadAllTextAsync(corpusPath, cancellationToken).ConfigureAwait(false);
        var ids = model.RequireTokenizer().Encode(text[..Math.Min(text.Length, passage * 16)], addSpecialTokens: false);
        if (ids.Count < passage)
        {
            throw new ArgumentException($"'{corpusPath}' holds {ids.Count} tokens; the passage needs {passage}.", nameof(corpusPath));
        }

        int[] prompt = [.. ids.Take(passage), .. ids.Take(RepeatedTokens)];
        var modes = new List<(string Name, GenerationOptions Options)>
        {
            ("plain", new GenerationOptions { DoSample = false, MaxNewTokens = newTokens, DraftTokens = 0 }),
            ($"prompt lookup {promptLookup}", new GenerationOptions { DoSample = false, MaxNewTokens = newTokens, DraftTokens = 0, PromptLookupTokens = promptLookup }),
        };
        if (draftDirectory is not null)
        {
            modes.Add(($"draft {Path.GetFileName(Path.TrimEndingDirectorySeparator(draftDirectory))}", new GenerationOptions { DoSample = false, MaxNewTokens = newTokens, DraftTokens = draftTokens }));
        }

        var results = modes.Select(_ => new List<GenerationResult>()).ToArray();
        var totals = modes.Select(_ => new List<double>()).ToArray();
        for (var round = -1; round < rounds; round++)
        {
            for (var m = 0; m < modes.Count; m++)
            {
                progress?.Report($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory))}: {modes[m].Name}, {(round < 0 ? "warm-up" : $"round {round + 1} of {rounds}")}");
                var started = Stopwatch.GetTimestamp();
                var result = await generator.GenerateAsync(prompt, modes[m].Options, cancellationToken).ConfigureAwait(false);
                if (round >= 0)
                {
                    totals[m].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    results[m].Add(result);
                }
            }
        }

        var plain = results[0][0].TokenIds;
        var rows = new List<SpeculativeResult>();
        for (var m = 0; m < modes.Count; m++)
        {
            var last = results[m][^1];
            rows.Add(new SpeculativeResult
            {
                Mode = modes[m].Name,
                TotalMs = Median(totals[m]),
                TimeToFirstTokenMs = Median(results[m].Select(r => r.TimeToFirstToken.TotalMilliseconds)),
                DecodeTokensPerSecond = Median(results[m].Select(r => r.TokensPerSecond)),
                GeneratedTokens = last.GeneratedTokenCount,
                DraftedTokens = last.DraftedTokenCount,
                AcceptedTokens = last.AcceptedDraftTokenCount,
                IdsMatchPlain = results[m].All(r => r.TokenIds.SequenceEqual(plain)),
            });
        }

        return new SpeculativeReport
        {
            Model = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory)),
            PromptTokens = prompt.Length,
            NewTokens = newTokens,
            Rounds = rounds,
            ProcessorCount = Environment.ProcessorCount,
            Results = rows,
        };
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
