using System.CommandLine;
using System.Text.Json;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt soak</c>: many concurrent streams with random settings and cancellations, then a report.</summary>
internal static class SoakCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var variant = CommonOptions.Variant();
        var concurrency = new Option<int>("--concurrency", "-c") { Description = "Concurrent streams.", DefaultValueFactory = _ => 8 };
        var requests = new Option<int>("--requests", "-r") { Description = "Requests to run in all.", DefaultValueFactory = _ => 10_000 };
        var minutes = new Option<double?>("--minutes") { Description = "Stop starting requests after this many minutes (the report says how many ran)." };
        var cancelRate = new Option<double>("--cancel-rate") { Description = "Fraction of requests cancelled at a random point.", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<int>("--seed") { Description = "Seed for the random prompts, settings and cancellations.", DefaultValueFactory = _ => 1 };
        var json = CommonOptions.Json();
        var command = new Command("soak", "Run many concurrent generations with random prompts, lengths, sampling settings and cancellations; report failures, latencies and memory.")
        {
            model, variant, concurrency, requests, minutes, cancelRate, seed, json,
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
            using var loaded = ModelLoader.Load(r.GetValue(model), r.GetValue(variant), executionProviders: null, loggerFactory);
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
