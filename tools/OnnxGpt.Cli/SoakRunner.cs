using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using OnnxGpt.Generation;

namespace OnnxGpt.Cli;

/// <summary>What <c>onnxgpt soak</c> runs.</summary>
internal sealed record SoakSettings(int Concurrency, int Requests, TimeSpan? Duration, double CancelRate, int Seed)
{
    public void Validate()
    {
        if (Concurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Concurrency), Concurrency, "--concurrency must be 1 or more.");
        }

        if (Requests < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Requests), Requests, "--requests must be 1 or more.");
        }

        if (CancelRate is < 0 or > 1 || double.IsNaN(CancelRate))
        {
            throw new ArgumentOutOfRangeException(nameof(CancelRate), CancelRate, "--cancel-rate must be in [0, 1].");
        }

        if (Duration is { } d && d <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Duration), d, "--minutes must be more than 0.");
        }
    }
}

/// <summary>Memory at one point of a soak run.</summary>
/// <param name="Point">Where in the run the sample was taken.</param>
/// <param name="RequestsDone">Requests finished by then.</param>
/// <param name="WorkingSetBytes">The process's working set.</param>
/// <param name="ManagedHeapBytes">The managed heap after a full collection.</param>
/// <param name="CachePoolBytes">Key/value buffers reserved by the model's cache pool (rented and idle).</param>
internal sealed record MemorySample(string Point, int RequestsDone, long WorkingSetBytes, long ManagedHeapBytes, long CachePoolBytes);

/// <summary>What <c>onnxgpt soak</c> reports.</summary>
internal sealed record SoakReport(
    int Concurrency,
    int RequestsStarted,
    int Completed,
    int Cancelled,
    int UnexpectedFailures,
    IReadOnlyDictionary<string, int> FailuresByReason,
    IReadOnlyDictionary<string, int> FinishReasons,
    long TokensGenerated,
    double Seconds,
    double TimeToFirstTokenP50Ms,
    double TimeToFirstTokenP99Ms,
    double PerTokenP50Ms,
    double PerTokenP99Ms,
    IReadOnlyList<MemorySample> Memory,
    double WorkingSetGrowthPercent,
    double GrowthOutsideCachePoolPercent,
    int CachesStillRented)
{
    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var b = new StringBuilder();
        b.AppendLine(c, $"| requests | completed | cancelled | unexpected failures | tokens | tokens/s | TTFT p50 / p99 (ms) | per token p50 / p99 (ms) |");
        b.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        b.AppendLine(c, $"| {RequestsStarted} | {Completed} | {Cancelled} | {UnexpectedFailures} | {TokensGenerated} | {TokensGenerated / Seconds:F0} | {TimeToFirstTokenP50Ms:F2} / {TimeToFirstTokenP99Ms:F2} | {PerTokenP50Ms:F2} / {PerTokenP99Ms:F2} |");
        b.AppendLine();
        b.AppendLine("| point | requests done | working set (MB) | managed heap (MB) | cache pool, reserved (MB) |");
        b.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var m in Memory)
        {
            b.AppendLine(c, $"| {m.Point} | {m.RequestsDone} | {m.WorkingSetBytes / 1048576.0:F1} | {m.ManagedHeapBytes / 1048576.0:F1} | {m.CachePoolBytes / 1048576.0:F1} |");
        }

        b.AppendLine();
        b.AppendLine(c, $"{Concurrency} concurrent streams, {Seconds:F0} s; finish reasons: {string.Join(", ", FinishReasons.Select(f => $"{f.Key} {f.Value}"))}; "
            + $"failures: {(FailuresByReason.Count == 0 ? "none" : string.Join(", ", FailuresByReason.Select(f => $"{f.Key} {f.Value}")))}; "
            + $"working set end vs after warm-up: {WorkingSetGrowthPercent:+0.0;-0.0;0.0}% "
            + $"({GrowthOutsideCachePoolPercent:+0.0;-0.0;0.0}% less the cache pool); caches still rented: {CachesStillRented}");
        return b.ToString();
    }
}

/// <summary>Runs the soak: workers draw random requests until the count or the time is reached.</summary>
internal static class SoakRunner
{
    /// <summary>The longest generation a soak request asks for.</summary>
    private const int MaxNewTokens = 64;

    private static readonly string[] Prompts =
    [
        "ROMEO:", "JULIET:", "First Citizen:", "KING RICHARD III:\nNow is the winter of our discontent", "MENENIUS:\nWhat is the matter?",
        "HAMLET:\nTo be, or not to be", "Nurse:", "BENVOLIO:\nGood morrow, cousin.", "", "O", "\n\n", "What say you, my lord?",
        "DUKE VINCENTIO:\nThe tongue of the people", "LADY CAPULET:\nMarry, that 'marry' is the very theme", "QUEEN ELIZABETH:",
    ];

    public static async Task<SoakReport> RunAsync(GptModel model, SoakSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var generator = GptGenerator.Create(model);
        var failures = new ConcurrentDictionary<string, int>();
        var finishes = new ConcurrentDictionary<string, int>();
        // Latencies go into arrays allocated up front, so the soak's own records do not show as growth in memory.
        var ttft = new double[settings.Requests];
        var perToken = new double[(long)settings.Requests * MaxNewTokens];
        var ttftCount = 0;
        var stepCount = 0L;
        var memory = new List<MemorySample>();
        long tokens = 0;
        int started = 0, completed = 0, cancelled = 0, unexpected = 0;
        // Memory is measured from the end of a warm-up (a tenth of the run), once pools and arenas have grown.
        var warmUp = Math.Max(1, Math.Min(settings.Requests / 10, 1000));
        var stopwatch = Stopwatch.StartNew();
        var sampleLock = new Lock();
        var nextSample = warmUp;

        void Sample(string point, int done)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var process = Process.GetCurrentProcess();
            var pool = model.CacheStatistics;
            memory.Add(new MemorySample(point, done, process.WorkingSet64, GC.GetTotalMemory(false), pool.RentedBytes + pool.IdleBytes));
            progress($"[{stopwatch.Elapsed:mm\\:ss}] {point}: {done} requests, working set {process.WorkingSet64 / 1048576.0:F1} MB");
        }

        async Task Worker(int id)
        {
            var random = new Random(HashCode.Combine(settings.Seed, id));
            while (!cancellationToken.IsCancellationRequested)
            {
                var index = Interlocked.Increment(ref started);
                if (index > settings.Requests || (settings.Duration is { } d && stopwatch.Elapsed > d))
                {
                    Interlocked.Decrement(ref started);
                    return;
                }

                var (prompt, options, cancelAt) = RandomRequest(random, model, settings.CancelRate);
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (cancelAt == 0)
                {
                    cts.CancelAfter(TimeSpan.FromMilliseconds(random.Next(0, 3)));
                }

                var begin = Stopwatch.GetTimestamp();
                var last = begin;

                var count = 0;
                try
                {
                    await foreach (var token in generator.StreamAsync(prompt, options, cts.Token).ConfigureAwait(false))
                    {
                        var now = Stopwatch.GetTimestamp();
                        if (count == 0)
                        {
                            ttft[Interlocked.Increment(ref ttftCount) - 1] = Stopwatch.GetElapsedTime(begin, now).TotalMilliseconds;
                        }
                        else
                        {
                            perToken[Interlocked.Increment(ref stepCount) - 1] = Stopwatch.GetElapsedTime(last, now).TotalMilliseconds;
                        }

                        last = now;
                        count++;
                        if (count == cancelAt)
                        {
                            await cts.CancelAsync().ConfigureAwait(false);
                        }

                        if (token.FinishReason is { } reason)
                        {
                            finishes.AddOrUpdate(reason.ToString(), 1, (_, n) => n + 1);
                        }
                    }

                    Interlocked.Increment(ref completed);
                }
                catch (OperationCanceledException) when (cts.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref cancelled);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Interlocked.Increment(ref unexpected);
                    failures.AddOrUpdate($"{ex.GetType().Name}: {ex.Message}", 1, (_, n) => n + 1);
                }

                Interlocked.Add(ref tokens, count);
                var done = Volatile.Read(ref completed) + Volatile.Read(ref cancelled) + Volatile.Read(ref unexpected);
                lock (sampleLock)
                {
                    if (done >= nextSample)
                    {
                        Sample(memory.Count == 0 ? "after warm-up" : "during", done);
                        nextSample = memory.Count == 1 ? Math.Max(done + 1, settings.Requests / 2) : int.MaxValue;
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, settings.Concurrency).Select(i => Task.Run(() => Worker(i), CancellationToken.None))).ConfigureAwait(false);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        Sample("end", completed + cancelled + unexpected);

        var ttfts = ttft[..ttftCount];
        Array.Sort(ttfts);
        var steps = perToken[..(int)stepCount];
        Array.Sort(steps);
        var growth = memory.Count >= 2 ? ((double)memory[^1].WorkingSetBytes / memory[0].WorkingSetBytes - 1) * 100 : 0;

        // The pool keeps up to its idle limit per capacity, so it grows until the load's peak concurrency has hit each
        // capacity; what grows outside it (native arenas, allocator) is the figure to watch for leaks.
        var outside = memory.Count >= 2
            ? ((double)(memory[^1].WorkingSetBytes - memory[^1].CachePoolBytes) / (memory[0].WorkingSetBytes - memory[0].CachePoolBytes) - 1) * 100
            : 0;
        return new SoakReport(
            settings.Concurrency,
            started,
            completed,
            cancelled,
            unexpected,
            new SortedDictionary<string, int>(failures, StringComparer.Ordinal),
            new SortedDictionary<string, int>(finishes, StringComparer.Ordinal),
            tokens,
            seconds,
            Percentile(ttfts, 0.5),
            Percentile(ttfts, 0.99),
            Percentile(steps, 0.5),
            Percentile(steps, 0.99),
            memory,
            growth,
            outside,
            model.CacheStatistics.Rented);
    }

    private static (GptPrompt Prompt, GenerationOptions Options, int CancelAt) RandomRequest(Random random, GptModel model, double cancelRate)
    {
        GptPrompt prompt = model.Tokenizer is not null && random.NextDouble() < 0.7
            ? Prompts[random.Next(Prompts.Length)]
            : GptPrompt.FromTokenIds(Enumerable.Range(0, random.Next(1, 48)).Select(_ => random.Next(model.Info.VocabularySize)));
        var sample = random.NextDouble() < 0.8;
        var options = new GenerationOptions
        {
            MaxNewTokens = random.Next(1, MaxNewTokens + 1),
            DoSample = sample,
            Seed = random.Next(),
            Temperature = sample ? (float)(0.5 + random.NextDouble()) : null,
            TopK = random.NextDouble() < 0.5 ? random.Next(0, 60) : null,
            TopP = random.NextDouble() < 0.5 ? (float)(0.5 + (random.NextDouble() * 0.5)) : null,
            MinP = random.NextDouble() < 0.3 ? (float)(random.NextDouble() * 0.2) : null,
            RepetitionPenalty = random.NextDouble() < 0.3 ? (float)(1 + (random.NextDouble() * 0.3)) : null,
            StopSequences = random.NextDouble() < 0.2 ? ["\n\n"] : null,
        };
        var cancelAt = random.NextDouble() < cancelRate ? random.Next(0, options.MaxNewTokens.Value) : -1;
        return (prompt, options, cancelAt);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
