using OnnxGpt.Providers;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Providers;

[TestFixture]
public sealed class CpuThreadingTests
{
    [TestCase(1, 1, false)]
    [TestCase(2, 2, true)]
    [TestCase(16, 16, true)]
    public void Nothing_configured_uses_one_thread_per_available_core(int cores, int expectedThreads, bool expectedSpinning)
    {
        var threading = CpuThreading.Choose(null, null, cores);

        Assert.Multiple(() =>
        {
            Assert.That(threading.IntraOpThreads, Is.EqualTo(expectedThreads));
            Assert.That(threading.InterOpThreads, Is.Zero);
            Assert.That(threading.AllowSpinning, Is.EqualTo(expectedSpinning));
            Assert.That(threading.Source, Is.EqualTo("cores available"));
            Assert.That(threading.ToString(), Is.EqualTo($"{expectedThreads} intra-op thread{(expectedThreads == 1 ? "" : "s")} (cores available: {cores}), sequential, {(expectedSpinning ? "spinning" : "no spinning")}"));
        });
    }

    [Test]
    public void A_configured_count_wins_and_zero_means_onnx_runtimes_default()
    {
        var set = CpuThreading.Choose(3, 2, 8);
        var ortDefault = CpuThreading.Choose(0, null, 8);

        Assert.Multiple(() =>
        {
            Assert.That(set.ToString(), Is.EqualTo("3 intra-op threads (IntraOpNumThreads; cores available: 8), 2 inter-op threads, spinning"));
            Assert.That(ortDefault.IntraOpThreads, Is.Zero);
            Assert.That(ortDefault.ToString(), Is.EqualTo("ONNX Runtime's default intra-op threads (IntraOpNumThreads = 0 (ONNX Runtime's default); cores available: 8), sequential, spinning"));
            Assert.That(() => CpuThreading.Choose(-1, null, 8), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("IntraOpNumThreads"));
            Assert.That(() => CpuThreading.Choose(null, null, 0), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    [Test]
    public void A_loaded_model_runs_with_the_choice_for_the_cores_this_process_may_use()
    {
        using var model = GptModel.Load(TestPaths.TinyShakespeare);
        using var sessionOptions = SessionFactory.CreateSessionOptions(new ExecutionProviderOptions(ExecutionProviderOptions.Cpu), ExecutionProviderOptions.Cpu, null, out var failure);

        Assert.Multiple(() =>
        {
            Assert.That(failure, Is.Null);
            Assert.That(model.Threading, Is.EqualTo(CpuThreading.Choose(null, null, Environment.ProcessorCount)));
            Assert.That(model.Threading.IntraOpThreads, Is.EqualTo(Environment.ProcessorCount));
            Assert.That(sessionOptions!.IntraOpNumThreads, Is.EqualTo(Environment.ProcessorCount));
        });
    }

    [Test]
    public void The_cpu_entrys_threads_override_the_model_wide_setting()
    {
        var wide = new GptOptions { ModelPath = TestPaths.TinyShakespeare, IntraOpNumThreads = 1 };
        var entry = new GptOptions { ModelPath = TestPaths.TinyShakespeare, IntraOpNumThreads = 1 };
        entry.ExecutionProviders.Add(new ExecutionProviderOptions(ExecutionProviderOptions.Cpu) { IntraOpNumThreads = 3 });

        using var wideModel = GptModel.Load(wide);
        using var entryModel = GptModel.Load(entry);

        Assert.Multiple(() =>
        {
            Assert.That(wideModel.Threading.IntraOpThreads, Is.EqualTo(1));
            Assert.That(wideModel.Threading.AllowSpinning, Is.False);
            Assert.That(entryModel.Threading.IntraOpThreads, Is.EqualTo(3));
            Assert.That(entryModel.Threading.Source, Is.EqualTo("IntraOpNumThreads"));
        });
    }
}
