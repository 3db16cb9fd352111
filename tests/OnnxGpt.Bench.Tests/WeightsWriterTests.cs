using System.Buffers.Binary;
using System.Text.Json;

namespace OnnxGpt.Bench.Tests;

public sealed class WeightsWriterTests
{
    private string _directory = null!;

    [SetUp]
    public void SetUp()
    {
        _directory = Path.Combine(Path.GetTempPath(), "onnxgpt-bench-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void TearDown()
    {
        Directory.Delete(_directory, recursive: true);
    }

    // Layout: values [2, 3] at 0 (24 bytes), 8 bytes of padding, ones [5] at 32, zeros [4] at 52,
    // a normal [300000] spanning several seed blocks and write chunks at 68, and a float16 ones [3] at the end.
    private const int NormalCount = 300_000;
    private const long NormalOffset = 68;
    private const long HalfOffset = NormalOffset + (NormalCount * 4L);
    private const long DataLength = HalfOffset + 6;

    private void WriteManifest(long dataLength = DataLength, double std = 0.5)
    {
        var manifest = new
        {
            model = new { kind = "synthetic" },
            data_file = "model.onnx.data",
            data_length = dataLength,
            tensors = new object[]
            {
                new { name = "w.values", dtype = "float32", shape = new[] { 2, 3 }, offset = 0L, length = 24L, fill = "values", values = new[] { 1.5, -2.0, 0.0, 3.25, 1e-3, -7.0 } },
                new { name = "w.ones", dtype = "float32", shape = new[] { 5 }, offset = 32L, length = 20L, fill = "ones" },
                new { name = "w.zeros", dtype = "float32", shape = new[] { 4 }, offset = 52L, length = 16L, fill = "zeros" },
                new { name = "w.normal", dtype = "float32", shape = new[] { NormalCount }, offset = NormalOffset, length = NormalCount * 4L, fill = "normal", std },
                new { name = "w.half", dtype = "float16", shape = new[] { 3 }, offset = HalfOffset, length = 6L, fill = "ones" },
            },
        };
        File.WriteAllText(Path.Combine(_directory, "weights.manifest.json"), JsonSerializer.Serialize(manifest));
    }

    private string DataPath => Path.Combine(_directory, "model.onnx.data");

    [Test]
    public async Task Writes_exact_bytes_for_values_ones_and_zeros_and_the_manifest_length()
    {
        WriteManifest();

        var wrote = await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None);

        Assert.That(wrote, Is.True);
        var bytes = await File.ReadAllBytesAsync(DataPath);
        Assert.That(bytes, Has.Length.EqualTo(DataLength));
        float F(long offset) => BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)offset));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Enumerable.Range(0, 6).Select(i => F(i * 4)), Is.EqualTo(new[] { 1.5f, -2f, 0f, 3.25f, 1e-3f, -7f }));
            Assert.That(bytes.AsSpan(24, 8).ToArray(), Is.All.Zero, "padding between tensors");
            Assert.That(Enumerable.Range(0, 5).Select(i => F(32 + (i * 4))), Is.All.EqualTo(1f));
            Assert.That(bytes.AsSpan(52, 16).ToArray(), Is.All.Zero);
            Assert.That(Enumerable.Range(0, 3).Select(i => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes.AsSpan((int)HalfOffset + (i * 2)))), Is.All.EqualTo(1f));
            Assert.That(Directory.GetFiles(_directory), Has.Length.EqualTo(2), "no temporary file is left behind");
        }
    }

    [Test]
    public async Task Normal_fill_is_finite_with_roughly_the_given_std()
    {
        WriteManifest(std: 0.5);
        await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None);

        var bytes = await File.ReadAllBytesAsync(DataPath);
        var samples = Enumerable.Range(0, NormalCount).Select(i => (double)BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan((int)NormalOffset + (i * 4)))).ToArray();
        var mean = samples.Average();
        var std = Math.Sqrt(samples.Select(s => (s - mean) * (s - mean)).Average());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(samples, Is.All.Matches<double>(double.IsFinite));
            Assert.That(mean, Is.EqualTo(0).Within(0.01));
            Assert.That(std, Is.EqualTo(0.5).Within(0.01));
            Assert.That(samples.Distinct().Count(), Is.GreaterThan(NormalCount * 9 / 10), "the samples are not a repeated pattern");
        }
    }

    [Test]
    public async Task Output_is_deterministic_across_runs()
    {
        WriteManifest();
        await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None);
        var first = await File.ReadAllBytesAsync(DataPath);

        File.Delete(DataPath);
        await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None);
        var second = await File.ReadAllBytesAsync(DataPath);

        Assert.That(second, Is.EqualTo(first));
    }

    [Test]
    public async Task Does_not_rewrite_a_complete_file_but_rewrites_one_of_the_wrong_length()
    {
        WriteManifest();
        Assert.That(await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None), Is.True);
        var written = File.GetLastWriteTimeUtc(DataPath);
        File.SetLastWriteTimeUtc(DataPath, written.AddHours(-1));

        var again = await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(again, Is.False);
            Assert.That(File.GetLastWriteTimeUtc(DataPath), Is.EqualTo(written.AddHours(-1)));
            Assert.That(WeightsWriter.IsComplete(_directory), Is.True);
        }

        await File.WriteAllBytesAsync(DataPath, new byte[10]);
        Assert.That(WeightsWriter.IsComplete(_directory), Is.False);
        Assert.That(await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None), Is.True);
        Assert.That(new FileInfo(DataPath).Length, Is.EqualTo(DataLength));
    }

    [Test]
    public async Task Reports_progress_up_to_one()
    {
        WriteManifest();
        var reports = new List<double>();
        await WeightsWriter.EnsureAsync(_directory, new SynchronousProgress(reports), CancellationToken.None);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(reports, Is.Not.Empty);
            Assert.That(reports, Is.Ordered);
            Assert.That(reports[^1], Is.EqualTo(1.0));
        }
    }

    [Test]
    public void Cancelling_leaves_no_file()
    {
        WriteManifest();
        using var cts = new CancellationTokenSource();
        cts.Cancel();

        Assert.That(async () => await WeightsWriter.EnsureAsync(_directory, null, cts.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(Directory.GetFiles(_directory), Has.Length.EqualTo(1), "only the manifest");
    }

    [Test]
    public void Missing_manifest_is_a_clear_error()
    {
        Assert.That(async () => await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None),
            Throws.InstanceOf<FileNotFoundException>().With.Message.Contains("weights.manifest.json"));
    }

    [Test]
    public void Missing_folder_is_a_clear_error()
    {
        var missing = Path.Combine(_directory, "nope");
        Assert.That(async () => await WeightsWriter.EnsureAsync(missing, null, CancellationToken.None),
            Throws.InstanceOf<DirectoryNotFoundException>().With.Message.Contains(missing));
    }

    [Test]
    public void Invalid_json_is_a_clear_error()
    {
        File.WriteAllText(Path.Combine(_directory, "weights.manifest.json"), "{ \"data_length\": 12, \"tensors\": [ ");
        Assert.That(async () => await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("not a valid weights manifest"));
    }

    [Test]
    public void A_tensor_beyond_the_data_length_is_a_clear_error()
    {
        WriteManifest(dataLength: 100);
        Assert.That(async () => await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("w.normal").And.Message.Contains("outside the data file"));
    }

    [Test]
    public void A_length_that_contradicts_the_shape_is_a_clear_error()
    {
        File.WriteAllText(Path.Combine(_directory, "weights.manifest.json"), """
            { "data_length": 64, "tensors": [ { "name": "x", "dtype": "float32", "shape": [3], "offset": 0, "length": 16, "fill": "zeros" } ] }
            """);
        Assert.That(async () => await WeightsWriter.EnsureAsync(_directory, null, CancellationToken.None),
            Throws.InstanceOf<InvalidDataException>().With.Message.Contains("needs 12 bytes"));
    }

    private sealed class SynchronousProgress(List<double> reports) : IProgress<double>
    {
        public void Report(double value) => reports.Add(value);
    }
}
