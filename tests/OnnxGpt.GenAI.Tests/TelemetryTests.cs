using System.Diagnostics;
using OnnxGpt.Generation;
using OnnxGpt.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace OnnxGpt.GenAI.Tests;

/// <summary>
/// The GenAI backend's requests in the "OnnxGpt" meter and activity source (the shared generation loop records them),
/// read through OpenTelemetry's in-memory exporters. The model runs from a uniquely named copy of the embedded one,
/// so only this fixture's requests carry its name.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class TelemetryTests
{
    private string _folder = null!;
    private string _name = null!;
    private GenAIGenerator _generator = null!;

    [OneTimeSetUp]
    public void CopyAndLoad()
    {
        _name = "genai-telemetry-" + Guid.NewGuid().ToString("N")[..8];
        _folder = Path.Combine(Path.GetTempPath(), _name);
        Directory.CreateDirectory(_folder);
        foreach (var file in Directory.GetFiles(Fixtures.TinyShakespeare))
        {
            File.Copy(file, Path.Combine(_folder, Path.GetFileName(file)));
        }

        _generator = GenAIGenerator.Create(new GptOptions { ModelPath = _folder });
    }

    [OneTimeTearDown]
    public void Unload()
    {
        _generator.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Test]
    public async Task Two_requests_record_their_tokens_durations_and_spans()
    {
        var exported = new List<MetricSnapshot>();
        using var meters = Sdk.CreateMeterProviderBuilder().AddMeter(GptTelemetry.MeterName).AddInMemoryExporter(exported).Build();
        var spans = new List<Activity>();
        using (var tracer = Sdk.CreateTracerProviderBuilder().AddSource(GptTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build())
        {
            var options = new GenerationOptions { DoSample = false, MaxNewTokens = 8 };
            var results = new[] { await _generator.GenerateAsync("ROMEO:", options), await _generator.GenerateAsync("JULIET: O", options) };
            meters.ForceFlush();
            var mine = spans.Where(s => Equals(s.GetTagItem("gen_ai.request.model"), _name)).ToList();
            var input = Points(exported, "gen_ai.client.token.usage", ("gen_ai.token.type", "input"));
            var output = Points(exported, "gen_ai.client.token.usage", ("gen_ai.token.type", "output"));
            var firstToken = Points(exported, "gen_ai.server.time_to_first_token");
            var running = Points(exported, "onnxgpt.requests.running");

            Assert.Multiple(() =>
            {
                Assert.That(results.Select(r => r.GeneratedTokenCount), Is.All.EqualTo(8));
                Assert.That(input.GetHistogramCount(), Is.EqualTo(2));
                Assert.That(input.GetHistogramSum(), Is.EqualTo(results.Sum(r => r.PromptTokenCount)));
                Assert.That(output.GetHistogramCount(), Is.EqualTo(2));
                Assert.That(output.GetHistogramSum(), Is.EqualTo(16));
                Assert.That(firstToken.GetHistogramSum(), Is.EqualTo(results.Sum(r => r.TimeToFirstToken.TotalSeconds)).Within(1e-9));
                Assert.That(running.GetSumLong(), Is.Zero, "no request is left running");
                Assert.That(mine, Has.Count.EqualTo(2));
                Assert.That(mine.Select(s => s.DisplayName), Is.All.EqualTo($"text_completion {_name}"));
                Assert.That(mine.Select(s => s.GetTagItem("gen_ai.usage.output_tokens")), Is.All.EqualTo(8));
                Assert.That(mine.Select(s => ((string[])s.GetTagItem("gen_ai.response.finish_reasons")!)[0]), Is.All.EqualTo("length"));
                Assert.That(mine.Select(s => string.Join(",", s.Events.Select(e => e.Name))), Is.All.EqualTo("onnxgpt.prefill,onnxgpt.decode"));
            });
        }
    }

    [Test]
    public void A_cancelled_request_records_the_cancellation()
    {
        var exported = new List<MetricSnapshot>();
        using var meters = Sdk.CreateMeterProviderBuilder().AddMeter(GptTelemetry.MeterName).AddInMemoryExporter(exported).Build();
        var spans = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddSource(GptTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        using var cancel = new CancellationTokenSource();

        Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var token in _generator.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 100 }, cancel.Token))
            {
                if (token.Index == 3)
                {
                    await cancel.CancelAsync();
                }
            }
        });

        meters.ForceFlush();
        var span = spans.Single(s => Equals(s.GetTagItem("gen_ai.request.model"), _name));
        Assert.Multiple(() =>
        {
            Assert.That(Points(exported, "gen_ai.client.operation.duration", ("error.type", "cancelled")).GetHistogramCount(), Is.EqualTo(1));
            Assert.That(Points(exported, "onnxgpt.requests.running").GetSumLong(), Is.Zero);
            Assert.That(span.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(((string[])span.GetTagItem("gen_ai.response.finish_reasons")!)[0], Is.EqualTo("cancelled"));
            Assert.That(span.GetTagItem("gen_ai.usage.output_tokens"), Is.EqualTo(4));
        });
    }

    /// <summary>The one point of <paramref name="metric"/> for this fixture's model with <paramref name="tags"/> (cumulative, as of the last flush).</summary>
    private MetricPoint Points(List<MetricSnapshot> exported, string metric, params (string Key, object Value)[] tags)
    {
        var points = new List<MetricPoint>();
        foreach (var snapshot in exported.Where(m => m.Name == metric).TakeLast(1))
        {
            foreach (var point in snapshot.MetricPoints)
            {
                var all = new Dictionary<string, object?>();
                foreach (var tag in point.Tags)
                {
                    all[tag.Key] = tag.Value;
                }

                if (Equals(all.GetValueOrDefault("gen_ai.request.model"), _name) && tags.All(t => Equals(all.GetValueOrDefault(t.Key), t.Value)))
                {
                    points.Add(point);
                }
            }
        }

        return points.Single();
    }
}
