using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace OnnxGpt.Telemetry;

/// <summary>OnnxGpt's meter, activity source and instruments, created once per process.</summary>
internal static class GenAIInstruments
{
    public const string OperationName = "text_completion";
    public const string ProviderName = "onnxgpt";

    // OpenTelemetry's advised bucket boundaries for these histograms.
    private static readonly long[] TokenBuckets = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];
    private static readonly double[] DurationBuckets = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
    private static readonly double[] FirstTokenBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0];
    private static readonly int[] BatchBuckets = [1, 2, 4, 8, 16, 32, 64];
    private static readonly double[] PerTokenBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5];

    // Models whose cache pool onnxgpt.cache.pool.bytes reports, until they are disposed (or collected: weak keys).
    private static readonly ConditionalWeakTable<object, CachePoolSource> CachePools = new();

    public static readonly Meter Meter = new(GptTelemetry.MeterName, typeof(GenAIInstruments).Assembly.GetName().Version?.ToString());

    public static readonly ActivitySource Source = new(GptTelemetry.ActivitySourceName, typeof(GenAIInstruments).Assembly.GetName().Version?.ToString());

    public static readonly Histogram<long> TokenUsage = Meter.CreateHistogram(
        "gen_ai.client.token.usage", "{token}", "Number of input and output tokens used.", tags: null, new InstrumentAdvice<long> { HistogramBucketBoundaries = TokenBuckets });

    public static readonly Histogram<double> OperationDuration = Meter.CreateHistogram(
        "gen_ai.client.operation.duration", "s", "GenAI operation duration.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram(
        "gen_ai.server.request.duration", "s", "Generative AI server request duration such as time-to-last byte or last output token.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    public static readonly Histogram<double> TimeToFirstToken = Meter.CreateHistogram(
        "gen_ai.server.time_to_first_token", "s", "Time to generate first token for successful responses.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = FirstTokenBuckets });

    public static readonly Histogram<double> TimePerOutputToken = Meter.CreateHistogram(
        "gen_ai.server.time_per_output_token", "s", "Time per output token generated after the first token for successful responses.", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = PerTokenBuckets });

    public static readonly UpDownCounter<long> RunningRequests = Meter.CreateUpDownCounter<long>(
        "onnxgpt.requests.running", "{request}", "Generations running now.");

    public static readonly UpDownCounter<long> QueuedRequests = Meter.CreateUpDownCounter<long>(
        "onnxgpt.requests.queued", "{request}", "Requests waiting for a generation slot (GptOptions.MaxConcurrentRequests).");

    public static readonly Histogram<int> BatchSize = Meter.CreateHistogram(
        "onnxgpt.batch.size", "{request}", "Requests (rows) run together in each decode step of a model.", tags: null, new InstrumentAdvice<int> { HistogramBucketBoundaries = BatchBuckets });

    public static readonly ObservableGauge<long> CachePoolBytes = Meter.CreateObservableGauge(
        "onnxgpt.cache.pool.bytes", ObserveCachePools, "By", "Memory of the KV cache pool: caches rented by requests and kept idle for later ones.");

    /// <summary>Reports <paramref name="owner"/>'s cache pool in <c>onnxgpt.cache.pool.bytes</c> until <see cref="UntrackCachePool"/>.</summary>
    public static void TrackCachePool(object owner, string modelPath, Func<long> bytes) => CachePools.AddOrUpdate(owner, new CachePoolSource(ModelName(modelPath), bytes));

    /// <summary>Stops reporting <paramref name="owner"/>'s cache pool.</summary>
    public static void UntrackCachePool(object owner) => CachePools.Remove(owner);

    /// <summary>The model's name in <c>gen_ai.request.model</c>: its folder's name (a graph file's folder for a path to an .onnx file).</summary>
    public static string ModelName(string modelPath)
    {
        var path = Path.TrimEndingDirectorySeparator(modelPath);
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            path = Path.GetDirectoryName(path) ?? path;
        }

        var name = Path.GetFileName(path);
        return string.IsNullOrEmpty(name) ? "onnxgpt" : name;
    }

    /// <summary>The attributes every measurement of a request carries.</summary>
    public static TagList Tags(string model) => new()
    {
        { "gen_ai.operation.name", OperationName },
        { "gen_ai.provider.name", ProviderName },
        { "gen_ai.request.model", model },
    };

    private static IEnumerable<Measurement<long>> ObserveCachePools()
    {
        foreach (var (_, pool) in (IEnumerable<KeyValuePair<object, CachePoolSource>>)CachePools)
        {
            yield return new Measurement<long>(pool.Bytes(), new KeyValuePair<string, object?>("gen_ai.request.model", pool.Model));
        }
    }
}

/// <summary>A model's name and how to read its cache pool's bytes.</summary>
internal sealed record CachePoolSource(string Model, Func<long> Bytes);
