using System.Diagnostics;
using OnnxGpt.Generation;

namespace OnnxGpt.Bench;

/// <summary>
/// Concurrent greedy streams through OnnxGpt's public API, with continuous batching on and off, in one run:
/// aggregate decode tokens/s, per-stream tokens/s and time to first token (p50, p99) at each stream count.
/// </summary>
public static class ConcurrencyBenchmark
{
    /// <summary>The stream counts measured by default.</summary>
    public static readonly IReadOnlyList<int> DefaultStreams = [1, 2, 4, 8, 16];

    /// <summary>Runs every stream count with batching on, then off (each after a warm-up run of one stream).</summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <param name="streams">Stream counts to measure.</param>
    /// <param name="promptTokens">Prompt length of each stream (the prompts differ between streams).</param>
    /// <param name="newTokens">Tokens each stream generates (greedy; end-of-sequence is suppressed).</param>
    /// <param name="intraOpThreads">ONNX Runtime intra-op threads; null: its default.</param>
    /// <param name="progress">Progress lines.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The report.</returns>
    public static async Task<ConcurrencyReport> RunAsync(string modelDirectory, IReadOnlyList<int> streams, int promptTokens, int newTokens, int? intraOpThreads, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var rows = new List<ConcurrencyResult>();
        foreach (var batching in new[] { true, false })
        {
            using var model = GptModel.Load(new GptOptions { ModelPath = modelDirectory, EnableBatching = batching, IntraOpNumThreads = intraOpThreads });
            var generator = GptGenerator.Create(model);
            var eos = model.Info.EosTokenIds;
            await RunStreamsAsync(generator, 1, promptTokens, Math.Min(newTokens, 8), eos, cancellationToken).ConfigureAwait(false);
            foreach (var count in streams)
            {
                progress?.Report($"{Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory))}: {count} stream(s), batching {(batching ? "on" : "off")}");
                rows.Add(await RunStreamsAsync(generator, count, promptTokens, newTokens, eos, cancellationToken).ConfigureAwait(false) with { Batching = batching });
            }
        }

        return new ConcurrencyReport
        {
            Model = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory)),
            PromptTokens = promptTokens,
            NewTokens = newTokens,
            ProcessorCount = Environment.ProcessorCount,
            Results = rows,
        };
    }

    private static async Task<ConcurrencyResult> RunStreamsAsync(GptGenerator generator, int count, int promptTokens, int newTokens, IReadOnlyList<int> eos, CancellationToken cancellationToken)
    {
        var vocabulary = generator.ModelInfo.VocabularySize;
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = newTokens, MinNewTokens = newTokens };
        var started = Stopwatch.GetTimestamp();
        var streams = await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            // Each stream has its own prompt, of the same length.
            var prompt = BenchmarkRunner.DefaultPrompt(promptTokens + i, vocabulary, [.. eos])[i..];
            long first = 0;
            var tokens = 0;
            await foreach (var _ in generator.StreamAsync(prompt, options, cancellationToken).ConfigureAwait(false))
            {
                if (tokens++ == 0)
                {
                    first = Stopwatch.GetTimestamp();
                }
            }

            return (First: first, Last: Stopwatch.GetTimestamp(), Tokens: tokens);
        }, cancellationToken))).ConfigureAwait(false);

        var end = streams.Max(s => s.Last);
        var ttft = streams.Select(s => Stopwatch.GetElapsedTime(started, s.First).TotalMilliseconds).Order().ToArray();
        var perStream = streams.Select(s => (s.Tokens - 1) / Math.Max(Stopwatch.GetElapsedTime(s.First, s.Last).TotalSeconds, 1e-9)).Order().ToArray();
        return new ConcurrencyResult
        {
            Streams = count,
            AggregateTokensPerSecond = streams.Sum(s => s.Tokens) / Stopwatch.GetElapsedTime(started, end).TotalSeconds,
            PerStreamTokensPerSecond = Percentile(perStream, 0.5),
            TimeToFirstTokenP50Ms = Percentile(ttft, 0.5),
            TimeToFirstTokenP99Ms = Percentile(ttft, 0.99),
            GeneratedTokens = streams.Sum(s => s.Tokens),
        };
    }

    /// <summary>The nearest-rank percentile of sorted values.</summary>
    internal static double Percentile(IReadOnlyList<double> sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];
}
