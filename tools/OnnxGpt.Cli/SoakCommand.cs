using System.CommandLine;
using System.Text.Json;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt soak</c>: many concurrent streams with random settings and cancellations, then a report.</summary>
internal static class SoakCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var concurrency = NumberOption.Create<int>("--concurrency", 8, "Concurrent streams.", "N", "-c");
        var requests = NumberOption.Create<int>("--requests", 10_000, "Requests to run in all.", "N", "-r");
        var minutes = NumberOption.Create<double>("--minutes", "Stop starting requests after this many minutes (the report says how many ran).", "N");
        var cancelRate = NumberOption.Create<double>("--cancel-rate", 0.1, "Fraction of requests cancelled at a random point.", "N");
        var seed = NumberOption.Create<int>("--seed", 1, "Seed for the random prompts, settings and cancellations.", "N");
        var json = CommonOptions.Json();
        var command = new Command("soak", "Run many concurrent generations with random prompts, lengths, sampling settings and cancellations; report failures, latencies and memory.")
        {
            model, concurrency, requests, minutes, cancelRate, seed, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var settings = new SoakSettings(
                r.GetValue(concurrency),
                r.GetValue(requests),
                r.GetValue(minutes) is { } m ? TimeSpan.FromMinutes(m) : null,
                r.GetValue(cancelRate),
                r.GetValue(seed));
            settings.Validate();
            using var loggerFactory = ModelLoader.CreateLoggerFactory(r.GetValue(CommonOptions.Verbose), r.InvocationConfiguration.Error);
            using var loaded = ModelLoader.Load(r.GetValue(model), executionProviders: null, loggerFactory);
            var stderr = r.InvocationConfiguration.Error;
            var report = await SoakRunner.RunAsync(loaded, settings, line => stderr.WriteLine(line), ct);
            var stdout = r.InvocationConfiguration.Output;
            await stdout.WriteLineAsync(r.GetValue(json) ? JsonSerializer.Serialize(report, CliJsonContext.Output.SoakReport) : report.ToTable());
            await stdout.FlushAsync(ct);
            return report.UnexpectedFailures == 0 && report.CachesStillRented == 0 ? ExitCodes.Success : ExitCodes.Failure;
        });
        return command;
    }
}
