using System.Diagnostics;
using OnnxGpt.Generation;

namespace OnnxGpt.Bench;

/// <summary>
/// Concurrent greedy streams through OnnxGpt's public API, with continuous batching on and off, in one run:
/// aggregate decode tokens/s, per-stream tokens/s and time to first token (p50, p99) at each stream count, under two
/// loads: a burst (every stream starts at once, one request each) and a closed loop (each client starts its next
/// request when its previous one ends, staggered so that requests arrive while others run, as vLLM's
/// max-concurrency serving benchmark does).
/// </summary>
public static class ConcurrencyBenchmark
{
    /// <summary>The stream counts measured by default.</summary>
    public static readonly IReadOnlyList<int> DefaultStreams = [1, 2, 4, 8, 16];

    /// <summary>Measured requests per client of the closed loop, after its first (staggering) one.</summary>
    private const int MeasuredRequestsPerClient = 3;

    /// <summary>
    /// Loads the model twice (batching on and off) and, at each stream count, measures both in turn (which goes first
    /// alternates between counts, so that drift does not favour one), after each model has warmed up on one stream
    /// and on the most streams (so that no measurement pays for JIT compilation or ONNX Runtime's first runs).
    /// </summary>
    /// <param name="modelDirectory">The model folder.</param>
    /// <param name="streams">Stream counts to measure.</param>
    /// <param name="promptTokens">Prompt length of each stream (the prompts differ between streams).</param>
    /// <param name="newTokens">Tokens each stream generates (greedy; end-of-sequence is suppressed).</param>
    /// <param name="intraOpThreads">ONNX Runtime intra-op threads; null: OnnxGpt's choice (<see cref="GptOptions.IntraOpNumThreads"/>).</param>
    /// <param name="closedLoop">Whether to measure the closed loop too, after the bursts.</param>
    /// <param name="progress">Progress lines.</param>
    /// <param name="cancellationToken">Stops the run.</param>
    /// <returns>The report.</returns>
    public static async Task<ConcurrencyReport> RunAsync(string modelDirectory, IReadOnlyList<int> streams, int promptTokens, int newTokens, int? intraOpThreads, bool closedLoop, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(modelDirectory));
        var rows = new List<ConcurrencyResult>();
        using var batched = GptModel.Load(new GptOptions { ModelPath = modelDirectory, EnableBatching = true, IntraOpNumThreads = intraOpThreads });
        using var alone = GptModel.Load(new GptOptions { ModelPath = modelDirectory, EnableBatching = false, IntraOpNumThreads = intraOpThreads });
        var generators = new[] { GptGenerator.Create(batched), GptGenerator.Create(alone) };
        var eos = batched.Info.EosTokenIds;
        foreach (var generator in generators)
        {
            await RunBurstAsync(generator, 1, promptTokens, newTokens, eos, cancellationToken).ConfigureAwait(false);
            await RunBurstAsync(generator, streams.Max(), promptTokens, Math.Min(newTokens, 16), eos, cancellationToken).ConfigureAwait(false);
        }

        foreach (var load in closedLoop ? new[] { ConcurrencyLoad.Burst, ConcurrencyLoad.ClosedLoop } : [ConcurrencyLoad.Burst])
        {
            for (var c = 0; c < streams.Count; c++)
            {
                var count = streams[c];
                foreach (var batching in c % 2 == 0 ? new[] { true, false } : [false, true])
                {
                    progress?.Report($"{name}: {count} stream(s), {(load == ConcurrencyLoad.Burst ? "burst" : "closed loop")}, batching {(batching ? "on" : "off")}");
                    var generator = generators[batching ? 0 : 1];
                    var result = load == ConcurrencyLoad.Burst
                        ? await RunBurstAsync(generator, count, promptTokens, newTokens, eos, cancellationToken).ConfigureAwait(false)
                        : await RunClosedLoopAsync(generator, count, promptTokens, newTokens, eos, cancellationToken).ConfigureAwait(false);
                    rows.Add(result with { Batching = batching, Load = load });
                }
            }
        }

        return new ConcurrencyReport
        {
            Model = name,
            PromptTokens = promptTokens,
            NewTokens = newTokens,
            ProcessorCount = Environment.ProcessorCount,
            Results = rows,
        };
    }

    /// <summary>Every stream starts at once and runs one request.</summary>
    private static async Task<ConcurrencyResult> RunBurstAsync(GptGenerator generator, int count, int promptTokens, int newTokens, IReadOnlyList<int> eos, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var requests = await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(
            () => RunRequestAsync(generator, Prompt(generator, promptTokens, i, eos), newTokens, cancellationToken), cancellationToken))).ConfigureAwait(false);
        return Summarize(count, started, requests.Select(r => r with { Start = started }).ToArray(), requests.Sum(r => r.Tokens), requests.Max(r => r.Last));
    }

    /// <summary>
    /// Each client runs one staggering request (client i generates (i + 1) / count of the new tokens, so that the
    /// clients' later requests start spread across one request's duration), then <see cref="MeasuredRequestsPerClient"/>
    /// full requests back to back; time to first token and per-stream speed are those of the full requests, each from
    /// its own start; the aggregate counts every token from the start to the last request's end, and the steady rate
    /// only the tokens of the window in which every client is past its staggering request and none has finished.
    /// </summary>
    private static async Task<ConcurrencyResult> RunClosedLoopAsync(GptGenerator generator, int count, int promptTokens, int newTokens, IReadOnlyList<int> eos, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var clients = await Task.WhenAll(Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            var prompt = Prompt(generator, promptTokens, i, eos);
            var first = await RunRequestAsync(generator, prompt, Math.Max(2, newTokens * (i + 1) / count), cancellationToken).ConfigureAwait(false);
            var measured = new List<RequestTiming>();
            for (var r = 0; r < MeasuredRequestsPerClient; r++)
            {
                measured.Add(await RunRequestAsync(generator, prompt, newTokens, cancellationToken).ConfigureAwait(false));
            }

            return (First: first, Measured: measured);
        }, cancellationToken))).ConfigureAwait(false);

        var measuredRequests = clients.SelectMany(c => c.Measured).ToArray();
        var tokens = clients.Sum(c => c.First.Tokens + c.Measured.Sum(m => m.Tokens));
        var steady = SteadyTokensPerSecond(
            clients.SelectMany(c => c.Measured.Prepend(c.First)),
            clients.Max(c => c.Measured[0].Start),
            clients.Min(c => c.Measured[^1].Last));
        return Summarize(count, started, measuredRequests, tokens, measuredRequests.Max(r => r.Last)) with { SteadyTokensPerSecond = steady };
    }

    /// <summary>
    /// Tokens of <paramref name="requests"/> that arrived within (<paramref name="from"/>, <paramref name="to"/>] per
    /// second of that window; null when the window is empty.
    /// </summary>
    internal static double? SteadyTokensPerSecond(IEnumerable<RequestTiming> requests, long from, long to)
    {
        if (to <= from)
        {
            return null;
        }

        var tokens = 0;
        foreach (var request in requests)
        {
            foreach (var stamp in request.Stamps)
            {
                tokens += stamp > from && stamp <= to ? 1 : 0;
            }
        }

        return tokens / Stopwatch.GetElapsedTime(from, to).TotalSeconds;
    }

    private static int[] Prompt(GptGenerator generator, int promptTokens, int stream, IReadOnlyList<int> eos) =>
        BenchmarkRunner.DefaultPrompt(promptTokens + stream, generator.ModelInfo.VocabularySize, [.. eos])[stream..];

    /// <summary>One greedy request; its start, first token and end timestamps.</summary>
    private static async Task<RequestTiming> RunRequestAsync(GptGenerator generator, int[] prompt, int newTokens, CancellationToken cancellationToken)
    {
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = newTokens, MinNewTokens = newTokens };
        var start = Stopwatch.GetTimestamp();
        var stamps = new long[newTokens];
        var tokens = 0;
        await foreach (var _ in generator.StreamAsync(prompt, options, cancellationToken).ConfigureAwait(false))
        {
            stamps[tokens++] = Stopwatch.GetTimestamp();
        }

        return new RequestTiming(start, tokens > 0 ? stamps[0] : start, Stopwatch.GetTimestamp(), tokens, stamps[..tokens]);
    }

    private static ConcurrencyResult Summarize(int count, long started, RequestTiming[] requests, int tokens, long end)
    {
        var ttft = requests.Select(r => Stopwatch.GetElapsedTime(r.Start, r.First).TotalMilliseconds).Order().ToArray();
        var perStream = requests.Select(r => (r.Tokens - 1) / Math.Max(Stopwatch.GetElapsedTime(r.First, r.Last).TotalSeconds, 1e-9)).Order().ToArray();
        return new ConcurrencyResult
        {
            Streams = count,
            AggregateTokensPerSecond = tokens / Stopwatch.GetElapsedTime(started, end).TotalSeconds,
            PerStreamTokensPerSecond = Percentile(perStream, 0.5),
            TimeToFirstTokenP50Ms = Percentile(ttft, 0.5),
            TimeToFirstTokenP99Ms = Percentile(ttft, 0.99),
            GeneratedTokens = tokens,
            MeasuredRequests = requests.Length,
        };
    }

    /// <summary>The nearest-rank percentile of sorted values.</summary>
    internal static double Percentile(IReadOnlyList<double> sorted, double fraction) =>
        sorted[Math.Clamp((int)Math.Ceiling(fraction * sorted.Count) - 1, 0, sorted.Count - 1)];

    /// <summary>One request's start, first token and end timestamps, its token count and each token's arrival.</summary>
    internal readonly record struct RequestTiming(long Start, long First, long Last, int Tokens, long[] Stamps);
}
