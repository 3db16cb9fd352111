using System.Diagnostics;
using System.Text;
using System.Text.Json;
using OnnxGpt.Tokenization;
using HuggingFaceTokenizer = Tokenizers.DotNet.Tokenizer;

namespace OnnxGpt.Bench;

/// <summary>What <see cref="TokenizerBenchmark.Run"/> measured: OnnxGpt's tokenizer against Hugging Face's Rust library.</summary>
/// <param name="Model">The model folder.</param>
/// <param name="Tokenizer">OnnxGpt's description of the tokenizer.</param>
/// <param name="Lines">Lines of the corpus encoded per run (one encode call each).</param>
/// <param name="Bytes">UTF-8 bytes of those lines.</param>
/// <param name="LoadMilliseconds">OnnxGpt: median time to load tokenizer.json (after one warm-up load).</param>
/// <param name="OracleLoadMilliseconds">Hugging Face tokenizers (Tokenizers.DotNet): the same.</param>
/// <param name="MegabytesPerSecond">OnnxGpt: encode throughput, median of the runs.</param>
/// <param name="OracleMegabytesPerSecond">Hugging Face tokenizers: the same.</param>
/// <param name="IdsMatch">Whether every line's ids were identical.</param>
public sealed record TokenizerBenchmarkReport(
    string Model,
    string Tokenizer,
    int Lines,
    long Bytes,
    double LoadMilliseconds,
    double OracleLoadMilliseconds,
    double MegabytesPerSecond,
    double OracleMegabytesPerSecond,
    bool IdsMatch)
{
    /// <summary>The report as one JSON object.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };
}

/// <summary>
/// Load time and encode throughput of OnnxGpt's tokenizer and of Hugging Face's tokenizers library (the Rust crate,
/// through Tokenizers.DotNet) on the same tokenizer.json and corpus, in one process, one thread each.
/// </summary>
public static class TokenizerBenchmark
{
    /// <summary>Measures <paramref name="modelDirectory"/>'s tokenizer.json on the lines of <paramref name="corpusPath"/>.</summary>
    /// <exception cref="FileNotFoundException">The folder has no tokenizer.json or the corpus is missing.</exception>
    public static TokenizerBenchmarkReport Run(string modelDirectory, string corpusPath, int runs, IProgress<string>? progress = null)
    {
        var jsonPath = Path.Combine(modelDirectory, "tokenizer.json");
        if (!File.Exists(jsonPath))
        {
            throw new FileNotFoundException($"'{modelDirectory}' has no tokenizer.json to compare with Hugging Face's library.", jsonPath);
        }

        var lines = File.ReadAllLines(corpusPath).Where(l => l.Length > 0).ToArray();
        var bytes = lines.Sum(l => (long)Encoding.UTF8.GetByteCount(l));
        runs = Math.Max(1, runs);

        var tokenizer = GptTokenizer.Load(modelDirectory);
        var load = Median(Enumerable.Range(0, runs).Select(_ => Time(() => GptTokenizer.Load(modelDirectory))));
        progress?.Report($"OnnxGpt: loaded in {load:F0} ms");
        using var oracle = new HuggingFaceTokenizer(jsonPath);
        var oracleLoad = Median(Enumerable.Range(0, runs).Select(_ => Time(() => new HuggingFaceTokenizer(jsonPath).Dispose())));
        progress?.Report($"Hugging Face tokenizers: loaded in {oracleLoad:F0} ms");

        // Warm-up and the ids check in one pass each.
        var match = true;
        foreach (var line in lines)
        {
            var ours = tokenizer.Encode(line, addSpecialTokens: true);
            var theirs = oracle.Encode(line);
            match &= ours.Count == theirs.Length && ours.Select((id, i) => (uint)id == theirs[i]).All(x => x);
        }

        var ourTimes = new List<double>();
        var theirTimes = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            ourTimes.Add(Time(() =>
            {
                foreach (var line in lines)
                {
                    tokenizer.Encode(line, addSpecialTokens: true);
                }
            }));
            theirTimes.Add(Time(() =>
            {
                foreach (var line in lines)
                {
                    oracle.Encode(line);
                }
            }));
            progress?.Report($"run {run + 1}: OnnxGpt {ourTimes[^1]:F0} ms, Hugging Face tokenizers {theirTimes[^1]:F0} ms");
        }

        double MegabytesPerSecond(double milliseconds) => bytes / 1e6 / (milliseconds / 1000);
        return new TokenizerBenchmarkReport(
            modelDirectory,
            tokenizer.Kind,
            lines.Length,
            bytes,
            load,
            oracleLoad,
            MegabytesPerSecond(Median(ourTimes)),
            MegabytesPerSecond(Median(theirTimes)),
            match);
    }

    private static double Time(Action action)
    {
        var start = Stopwatch.GetTimestamp();
        action();
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
