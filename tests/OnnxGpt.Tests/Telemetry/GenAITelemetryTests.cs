using System.Diagnostics;
using OnnxGpt.Generation;
using OnnxGpt.Hosting;
using OnnxGpt.Telemetry;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace OnnxGpt.Tests.Telemetry;

/// <summary>
/// The "OnnxGpt" meter and activity source, read through OpenTelemetry's in-memory exporters as an application would.
/// The model runs from a uniquely named copy of the embedded one, so only this fixture's requests carry its name.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class GenAITelemetryTests
{
    private TempDirectory _folder = null!;
    private GptModel _model = null!;
    private string _name = null!;

    [OneTimeSetUp]
    public void CopyAndLoad()
    {
        _folder = new TempDirectory();
        foreach (var file in Directory.GetFiles(TestPaths.TinyShakespeare))
        {
            File.Copy(file, _folder.File(Path.GetFileName(file)));
        }

        _name = Path.GetFileName(_folder.Path);
        _model = GptModel.Load(_folder.Path);
    }

    [OneTimeTearDown]
    public void Unload()
    {
        _model.Dispose();
        _folder.Dispose();
    }

    private sealed class Recorder : IDisposable
    {
        private readonly List<MetricSnapshot> _metrics = [];
        private readonly MeterProvider _meters;
        private readonly TracerProvider _tracer;

        public Recorder()
        {
            _meters = Sdk.CreateMeterProviderBuilder().AddMeter(GptTelemetry.MeterName).AddInMemoryExporter(_metrics).Build();
            _tracer = Sdk.CreateTracerProviderBuilder().AddSource(GptTelemetry.ActivitySourceName).AddInMemoryExporter(Spans).Build();
        }

        public List<Activity> Spans { get; } = [];

        /// <summary>The metric's points (cumulative) for <paramref name="model"/> as of now.</summary>
        public List<MetricPoint> Points(string metric, string model, params (string Key, object Value)[] tags)
        {
            _metrics.Clear();
            _meters.ForceFlush();
            var points = new List<MetricPoint>();
            foreach (var snapshot in _metrics.Where(m => m.Name == metric))
            {
                foreach (var point in snapshot.MetricPoints)
                {
                    var all = new Dictionary<string, object?>();
                    foreach (var tag in point.Tags)
                    {
                        all[tag.Key] = tag.Value;
                    }

                    if (Equals(all.GetValueOrDefault("gen_ai.request.model"), model) && tags.All(t => Equals(all.GetValueOrDefault(t.Key), t.Value)))
                    {
                        points.Add(point);
                    }
                }
            }

            return points;
        }

        public Dictionary<string, object?> TagsOf(string metric, string model)
        {
            var point = Points(metric, model).Single();
            var all = new Dictionary<string, object?>();
            foreach (var tag in point.Tags)
            {
                all[tag.Key] = tag.Value;
            }

            return all;
        }

        public void Dispose()
        {
            _tracer.Dispose();
            _meters.Dispose();
        }
    }

    [Test]
    public async Task Two_requests_record_their_tokens_durations_and_spans()
    {
        using var recorder = new Recorder();
        var generator = GptGenerator.Create(_model);
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 8 };

        var results = new[] { await generator.GenerateAsync("ROMEO:", options), await generator.GenerateAsync("JULIET: O", options) };

        var input = recorder.Points("gen_ai.client.token.usage", _name, ("gen_ai.token.type", "input")).Single();
        var output = recorder.Points("gen_ai.client.token.usage", _name, ("gen_ai.token.type", "output")).Single();
        var duration = recorder.Points("gen_ai.client.operation.duration", _name).Single();
        var server = recorder.Points("gen_ai.server.request.duration", _name).Single();
        var firstToken = recorder.Points("gen_ai.server.time_to_first_token", _name).Single();
        var perToken = recorder.Points("gen_ai.server.time_per_output_token", _name).Single();
        var tags = recorder.TagsOf("gen_ai.client.operation.duration", _name);
        var running = recorder.Points("onnxgpt.requests.running", _name).Single();
        var spans = recorder.Spans.Where(s => Equals(s.GetTagItem("gen_ai.request.model"), _name)).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(input.GetHistogramCount(), Is.EqualTo(2));
            Assert.That(input.GetHistogramSum(), Is.EqualTo(results.Sum(r => r.PromptTokenCount)));
            Assert.That(output.GetHistogramCount(), Is.EqualTo(2));
            Assert.That(output.GetHistogramSum(), Is.EqualTo(16));
            Assert.That(duration.GetHistogramCount(), Is.EqualTo(2));
            Assert.That(duration.GetHistogramSum(), Is.EqualTo(results.Sum(r => r.TotalTime.TotalSeconds)).Within(1e-9));
            Assert.That(server.GetHistogramSum(), Is.EqualTo(duration.GetHistogramSum()));
            Assert.That(firstToken.GetHistogramCount(), Is.EqualTo(2));
            Assert.That(firstToken.GetHistogramSum(), Is.EqualTo(results.Sum(r => r.TimeToFirstToken.TotalSeconds)).Within(1e-9));
            Assert.That(perToken.GetHistogramCount(), Is.EqualTo(2));
            Assert.That(perToken.GetHistogramSum(), Is.EqualTo(results.Sum(r => (r.TotalTime - r.TimeToFirstToken).TotalSeconds / 7)).Within(1e-9));
            Assert.That(tags, Is.EquivalentTo(new Dictionary<string, object?>
            {
                ["gen_ai.operation.name"] = "text_completion",
                ["gen_ai.provider.name"] = "onnxgpt",
                ["gen_ai.request.model"] = _name,
            }));
            Assert.That(running.GetSumLong(), Is.Zero, "no request is left running");

            Assert.That(spans, Has.Count.EqualTo(2));
            Assert.That(spans.Select(s => s.DisplayName), Is.All.EqualTo($"text_completion {_name}"));
            Assert.That(spans.Select(s => s.GetTagItem("gen_ai.usage.input_tokens")), Is.EqualTo(results.Select(r => (object)r.PromptTokenCount)));
            Assert.That(spans.Select(s => s.GetTagItem("gen_ai.usage.output_tokens")), Is.All.EqualTo(8));
            Assert.That(spans.Select(s => ((string[])s.GetTagItem("gen_ai.response.finish_reasons")!)[0]), Is.All.EqualTo("length"));
            Assert.That(spans.Select(s => s.GetTagItem("gen_ai.request.max_tokens")), Is.All.EqualTo(8));
            Assert.That(spans.Select(s => string.Join(",", s.Events.Select(e => e.Name))), Is.All.EqualTo("onnxgpt.prefill,onnxgpt.decode"));
            Assert.That(spans.Select(s => s.Status), Is.All.EqualTo(ActivityStatusCode.Unset));
        });
    }

    [Test]
    public async Task A_running_request_counts_until_it_is_cancelled_and_then_records_the_cancellation()
    {
        using var recorder = new Recorder();
        var generator = GptGenerator.Create(_model);
        using var cancel = new CancellationTokenSource();
        long runningMidStream = -1;

        Assert.CatchAsync<OperationCanceledException>(async () =>
        {
            await foreach (var token in generator.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 100 }, cancel.Token))
            {
                if (token.Index == 3)
                {
                    runningMidStream = recorder.Points("onnxgpt.requests.running", _name).Single().GetSumLong();
                    await cancel.CancelAsync();
                }
            }
        });

        var cancelled = recorder.Points("gen_ai.client.operation.duration", _name, ("error.type", "cancelled")).Single();
        var running = recorder.Points("onnxgpt.requests.running", _name).Single();
        var firstToken = recorder.Points("gen_ai.server.time_to_first_token", _name);
        var span = recorder.Spans.Single(s => Equals(s.GetTagItem("gen_ai.request.model"), _name));

        Assert.Multiple(() =>
        {
            Assert.That(runningMidStream, Is.EqualTo(1));
            Assert.That(running.GetSumLong(), Is.Zero);
            Assert.That(cancelled.GetHistogramCount(), Is.EqualTo(1));
            Assert.That(firstToken, Is.Empty, "time to first token is for successful responses");
            Assert.That(span.Status, Is.EqualTo(ActivityStatusCode.Error));
            Assert.That(span.GetTagItem("error.type"), Is.EqualTo("cancelled"));
            Assert.That(((string[])span.GetTagItem("gen_ai.response.finish_reasons")!)[0], Is.EqualTo("cancelled"));
        });
    }

    [Test]
    public async Task Each_decode_step_records_its_batch_size()
    {
        using var recorder = new Recorder();
        var generator = GptGenerator.Create(_model);

        var result = await generator.GenerateAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 6, StopSequences = [] });

        var steps = recorder.Points("onnxgpt.batch.size", _name).Single();
        Assert.Multiple(() =>
        {
            Assert.That(result.GeneratedTokenCount, Is.EqualTo(6));
            Assert.That(steps.GetHistogramCount(), Is.EqualTo(5), "the prefill gives the first token; each of the other five is one step");
            Assert.That(steps.GetHistogramSum(), Is.EqualTo(5), "one row in every step");
        });
    }

    [Test]
    public async Task Queued_requests_and_the_cache_pool_are_gauges()
    {
        using var recorder = new Recorder();
        using var limited = new ConcurrencyLimitedGenerator(GptGenerator.Create(_model), maxConcurrentRequests: 1, maxQueuedRequests: 4);
        await using var first = limited.StreamAsync("ROMEO:", new GenerationOptions { DoSample = false, MaxNewTokens = 50 }).GetAsyncEnumerator();
        await first.MoveNextAsync();   // holds the only slot
        var second = limited.GenerateAsync("JULIET:", new GenerationOptions { DoSample = false, MaxNewTokens = 2 });
        while (limited.Queued == 0)
        {
            await Task.Delay(1);
        }

        var queuedWhileWaiting = recorder.Points("onnxgpt.requests.queued", _name).Single().GetSumLong();
        var poolBytes = recorder.Points("onnxgpt.cache.pool.bytes", _name).Single().GetGaugeLastValueLong();
        var statistics = _model.CacheStatistics;
        while (await first.MoveNextAsync())
        {
        }

        await second;
        var queuedAfter = recorder.Points("onnxgpt.requests.queued", _name).Single().GetSumLong();

        Assert.Multiple(() =>
        {
            Assert.That(queuedWhileWaiting, Is.EqualTo(1));
            Assert.That(queuedAfter, Is.Zero);
            Assert.That(poolBytes, Is.GreaterThan(0));
            Assert.That(poolBytes, Is.EqualTo(statistics.RentedBytes + statistics.IdleBytes));
        });
    }
}
