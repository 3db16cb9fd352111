using System.Text.Json;
using Spectre.Console;

namespace OnnxGpt.Bench.Tests;

public sealed class BenchmarkRunnerTests
{
    private static readonly string ModelDirectory = Path.Combine(AppContext.BaseDirectory, "models", "tiny-shakespeare");
    private static BenchmarkReport? _report;

    /// <summary>One short benchmark on tiny-shakespeare, shared by the tests (it is the slow part).</summary>
    private static async Task<BenchmarkReport> ReportAsync() => _report ??= await BenchmarkRunner.RunAsync(new BenchmarkSettings
    {
        ModelDirectory = ModelDirectory,
        NewTokens = 16,
        WarmupRuns = 1,
        MeasuredRuns = 1,
        IntraOpThreads = 1,
        BandwidthBufferBytes = 64L << 20,
    });

    [Test]
    public async Task Every_implementation_produces_the_same_greedy_ids()
    {
        var report = await ReportAsync();

        var expected = GenAiAvailability.IsAvailable ? new[] { "OnnxGpt", "ORT naive", "ORT tight", "GenAI" } : ["OnnxGpt", "ORT naive", "ORT tight"];
        var ran = report.Implementations.Where(i => i.Status == ImplementationStatus.Ok).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(report.Implementations.Where(i => i.Status == ImplementationStatus.Failed).Select(i => i.Name + ": " + i.Note), Is.Empty);
            Assert.That(ran.Select(i => i.Name), Is.EqualTo(expected));
            Assert.That(ran.Select(i => i.TokenIds), Has.All.EqualTo(ran[0].TokenIds));
            Assert.That(ran[0].TokenIds, Has.Count.EqualTo(16));
            Assert.That(report.IdsMatch, Is.True);
        }
    }

    [Test]
    public async Task Every_implementation_runs_the_variant_asked_for()
    {
        // The folder's model.onnx cannot run: only model_copy.onnx (variant "copy") gives the ids.
        var dir = Directory.CreateTempSubdirectory("onnxgpt-bench-variant-").FullName;
        try
        {
            foreach (var file in Directory.GetFiles(ModelDirectory))
            {
                var name = Path.GetFileName(file);
                File.Copy(file, Path.Combine(dir, name == "model.onnx" ? "model_copy.onnx" : name));
            }

            File.WriteAllText(Path.Combine(dir, "model.onnx"), "not a graph");
            var report = await BenchmarkRunner.RunAsync(new BenchmarkSettings
            {
                ModelDirectory = dir,
                Variant = "copy",
                NewTokens = 16,
                WarmupRuns = 0,
                MeasuredRuns = 1,
                IntraOpThreads = 1,
                BandwidthBufferBytes = 64L << 20,
            });
            var reference = await ReportAsync();

            using (Assert.EnterMultipleScope())
            {
                Assert.That(report.Implementations.Where(i => i.Status == ImplementationStatus.Failed).Select(i => i.Name + ": " + i.Note), Is.Empty);
                Assert.That(report.Implementations.Where(i => i.Status == ImplementationStatus.Ok).Select(i => i.TokenIds), Has.All.EqualTo(reference.Implementations[0].TokenIds));
                Assert.That(report.Model, Is.EqualTo(Path.GetFileName(dir) + " (copy)"), "a variant's report names it, so that several in one run tell apart");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public async Task Reports_numbers_for_every_implementation_that_ran()
    {
        var report = await ReportAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(report.Model, Is.EqualTo("tiny-shakespeare"));
            Assert.That(report.PromptTokens, Is.EqualTo(BenchmarkSettings.DefaultPromptLength));
            Assert.That(report.EarlyPosition, Is.EqualTo(32));
            Assert.That(report.LatePosition, Is.EqualTo(224), "context 256 - 32");
            foreach (var i in report.Implementations.Where(i => i.Status == ImplementationStatus.Ok))
            {
                Assert.That(i.TimeToFirstTokenMs, Is.GreaterThan(0), i.Name);
                Assert.That(i.DecodeTokensPerSecond, Is.GreaterThan(0), i.Name);
                Assert.That(i.PerTokenMsEarly, Is.GreaterThan(0), i.Name);
                Assert.That(i.PerTokenMsLate, Is.GreaterThan(0), i.Name);
                Assert.That(i.AllocatedBytesPerToken, Is.GreaterThanOrEqualTo(0), i.Name);
                Assert.That(i.PeakWorkingSetBytes, Is.GreaterThan(0), i.Name);
            }

            Assert.That(report.Ratios.OnnxGptOverOrtTight, Is.GreaterThan(0));
            Assert.That(report.Ratios.OnnxGptLateOverEarly, Is.GreaterThan(0));
            Assert.That(report.BandwidthGBps, Is.GreaterThan(0));
            Assert.That(report.WeightBytes, Is.EqualTo(new FileInfo(Path.Combine(ModelDirectory, "model.onnx")).Length));
            Assert.That(report.CeilingTokensPerSecond, Is.EqualTo(report.BandwidthGBps * 1e9 / report.WeightBytes).Within(1e-6));
            Assert.That(report.FractionOfCeiling, Is.GreaterThan(0));
            Assert.That(report.ProcessPeakWorkingSetBytes, Is.GreaterThan(0));
        }
    }

    [Test]
    public async Task Json_has_the_documented_field_names()
    {
        var report = await ReportAsync();

        using var json = JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        using (Assert.EnterMultipleScope())
        {
            foreach (var field in new[] { "model", "promptTokens", "newTokens", "implementations", "ratios", "bandwidthGBps", "ceilingTokensPerSecond", "fractionOfCeiling", "idsMatch" })
            {
                Assert.That(root.TryGetProperty(field, out _), Is.True, field);
            }

            Assert.That(root.GetProperty("model").GetString(), Is.EqualTo("tiny-shakespeare"));
            Assert.That(root.GetProperty("newTokens").GetInt32(), Is.EqualTo(16));
            Assert.That(root.GetProperty("idsMatch").GetBoolean(), Is.True);
            Assert.That(root.GetProperty("ratios").TryGetProperty("onnxGptOverOrtTight", out _), Is.True);
            var first = root.GetProperty("implementations")[0];
            foreach (var field in new[] { "name", "timeToFirstTokenMs", "decodeTokensPerSecond", "perTokenMsEarly", "perTokenMsLate", "allocatedBytesPerToken", "peakWorkingSetBytes", "tokenIds" })
            {
                Assert.That(first.TryGetProperty(field, out _), Is.True, field);
            }

            Assert.That(first.GetProperty("name").GetString(), Is.EqualTo("OnnxGpt"));
            Assert.That(first.GetProperty("tokenIds").GetArrayLength(), Is.EqualTo(16));
        }
    }

    [Test]
    public async Task Table_lists_every_implementation_and_the_ratios()
    {
        var report = await ReportAsync();
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 200;

        report.WriteTable(console);
        var output = writer.ToString();

        using (Assert.EnterMultipleScope())
        {
            foreach (var i in report.Implementations)
            {
                Assert.That(output, Does.Contain(i.Name));
            }

            Assert.That(output, Does.Contain("OnnxGpt / ORT tight"));
            Assert.That(output, Does.Contain("ceiling"));
            Assert.That(output, Does.Contain("match"));
        }
    }

    [Test]
    public void A_prompt_longer_than_the_context_is_rejected()
    {
        var settings = new BenchmarkSettings { ModelDirectory = ModelDirectory, PromptLength = 250, NewTokens = 16, MeasureBandwidth = false };
        Assert.That(async () => await BenchmarkRunner.RunAsync(settings), Throws.ArgumentException.With.Message.Contains("context length 256"));
    }

    [Test]
    public void A_missing_folder_is_a_clear_error()
    {
        var settings = new BenchmarkSettings { ModelDirectory = Path.Combine(AppContext.BaseDirectory, "no-such-model"), MeasureBandwidth = false };
        Assert.That(async () => await BenchmarkRunner.RunAsync(settings), Throws.InstanceOf<DirectoryNotFoundException>().With.Message.Contains("no-such-model"));
    }

    [Test]
    public void Default_prompt_is_fixed_and_within_the_vocabulary()
    {
        var a = BenchmarkRunner.DefaultPrompt(32, 2048, [0]);
        var b = BenchmarkRunner.DefaultPrompt(32, 2048, [0]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(a, Is.EqualTo(b));
            Assert.That(a, Is.All.InRange(1, 2047));
            Assert.That(a.Distinct().Count(), Is.GreaterThan(20));
        }
    }
}
