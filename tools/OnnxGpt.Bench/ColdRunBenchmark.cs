using System.Diagnostics;
using System.Globalization;

namespace OnnxGpt.Bench;

/// <summary>
/// Cold runs as a user types them: each run starts a new <c>onnxgpt generate</c> process (streaming its text, no
/// <c>--json</c>) and times, from outside, the process start to its first generated text on standard output, the decode
/// rate from the first to the last text written, and the process's whole life. Configurations (environment variables
/// such as <c>DOTNET_TieredPGO=0</c>) take turns run by run, because this machine's speed drifts.
/// </summary>
public static class ColdRunBenchmark
{
    /// <summary>Runs the processes and reports medians per configuration.</summary>
    /// <param name="executable">The onnxgpt executable (or <c>dotnet</c>, with the CLI's assembly first in <paramref name="prefixArguments"/>).</param>
    /// <param name="prefixArguments">Arguments before <c>generate</c> (the assembly when <paramref name="executable"/> is <c>dotnet</c>).</param>
    /// <param name="model">The model folder.</param>
    /// <param name="prompt">The prompt text.</param>
    /// <param name="newTokens">Tokens to generate (end-of-sequence is forbidden until then, so every process writes as many).</param>
    /// <param name="runs">Processes per configuration.</param>
    /// <param name="configurations">The configurations to compare; the default (this executable, no variables) is added first.</param>
    /// <param name="progress">Progress lines.</param>
    /// <param name="cancellationToken">Stops between processes.</param>
    /// <returns>The report.</returns>
    public static async Task<ColdRunReport> RunAsync(string executable, IReadOnlyList<string> prefixArguments, string model, string prompt, int newTokens, int runs, IReadOnlyList<ColdRunConfiguration> configurations, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(newTokens, 2);
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var all = new List<ColdRunConfiguration> { new("default", new Dictionary<string, string>()) };
        all.AddRange(configurations);
        var count = newTokens.ToString(CultureInfo.InvariantCulture);
        string[] arguments = ["generate", "-m", model, prompt, "-n", count, "--min-new-tokens", count];
        var first = all.Select(_ => new List<double>()).ToArray();
        var decode = all.Select(_ => new List<double>()).ToArray();
        var process = all.Select(_ => new List<double>()).ToArray();
        for (var run = 0; run < runs; run++)
        {
            for (var c = 0; c < all.Count; c++)
            {
                progress?.Report($"{all[c].Label}: process {run + 1}/{runs}");
                var (toFirst, rate, total) = all[c].Executable is { } other
                    ? await RunOnceAsync(other, arguments, all[c].Environment, newTokens, cancellationToken)
                    : await RunOnceAsync(executable, [.. prefixArguments, .. arguments], all[c].Environment, newTokens, cancellationToken);
                first[c].Add(toFirst);
                decode[c].Add(rate);
                process[c].Add(total);
            }
        }

        return new ColdRunReport
        {
            Command = string.Join(' ', arguments.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a)),
            NewTokens = newTokens,
            Runs = runs,
            ProcessorCount = Environment.ProcessorCount,
            Results = [.. all.Select((c, i) => new ColdRunResult
            {
                Label = c.Label,
                Environment = c.Environment,
                Executable = c.Executable,
                StartToFirstTokenMs = Median(first[i]),
                DecodeTokensPerSecond = Median(decode[i]),
                ProcessMs = Median(process[i]),
                StartToFirstTokenRunsMs = first[i],
                DecodeRuns = decode[i],
            })],
        };
    }

    /// <summary>The median of <paramref name="values"/> (the mean of the middle two for an even count).</summary>
    /// <param name="values">At least one value.</param>
    /// <returns>The median.</returns>
    public static double Median(IReadOnlyList<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static async Task<(double FirstMs, double TokensPerSecond, double TotalMs)> RunOnceAsync(string executable, string[] arguments, IReadOnlyDictionary<string, string> environment, int newTokens, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var clock = Stopwatch.StartNew();
        using var child = Process.Start(info) ?? throw new InvalidOperationException($"Cannot start '{executable}'.");
        var errors = child.StandardError.ReadToEndAsync(cancellationToken);
        var stream = child.StandardOutput.BaseStream;
        var buffer = new byte[4096];
        double firstMs = -1, lastMs = -1;
        int read;
        while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            var now = clock.Elapsed.TotalMilliseconds;
            if (firstMs < 0)
            {
                firstMs = now;
            }

            lastMs = now;
        }

        await child.WaitForExitAsync(cancellationToken);
        var totalMs = clock.Elapsed.TotalMilliseconds;
        var stderr = await errors;
        if (child.ExitCode != 0 || firstMs < 0)
        {
            throw new InvalidOperationException($"'{executable} {string.Join(' ', arguments)}' exited with {child.ExitCode.ToString(CultureInfo.InvariantCulture)}: {stderr.Trim()}");
        }

        // The first read holds the first token (and maybe a few more); the last, the last token and the closing newline.
        var rate = lastMs > firstMs ? (newTokens - 1) / ((lastMs - firstMs) / 1000) : double.NaN;
        return (firstMs, rate, totalMs);
    }
}
