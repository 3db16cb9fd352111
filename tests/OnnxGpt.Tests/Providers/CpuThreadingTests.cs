using OnnxGpt.Providers;
using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Providers;

[TestFixture]
public sealed class CpuThreadingTests
{
    [TestCase(1, 1)]
    [TestCase(2, 2)]
    [TestCase(16, 16)]
    public void Nothing_configured_uses_one_spinning_thread_per_available_core_with_the_even_split(int cores, int expectedThreads)
    {
        var threading = CpuThreading.Choose(null, null, cores);

        Assert.Multiple(() =>
        {
            Assert.That(threading.IntraOpThreads, Is.EqualTo(expectedThreads));
            Assert.That(threading.InterOpThreads, Is.Zero);
            Assert.That(threading.AllowSpinning, Is.True);
            Assert.That(threading.DynamicBlockBase, Is.Zero);
            Assert.That(threading.Source, Is.EqualTo("cores available"));
            Assert.That(threading.ToString(), Is.EqualTo(expectedThreads == 1
                ? $"1 intra-op thread (cores available: {cores}), sequential, spinning"
                : $"{expectedThreads} intra-op threads (cores available: {cores}), sequential, spinning"));
            Assert.That(threading.SessionConfigEntries(), Is.EqualTo(new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "1" }));
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
    public void Session_config_entries_override_spinning_and_blocks_and_the_choice_says_so()
    {
        var entries = new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0", ["session.dynamic_block_base"] = "4" };
        var overridden = CpuThreading.Choose(null, null, 2, entries);
        var other = CpuThreading.Choose(null, null, 2, new Dictionary<string, string> { ["session.dynamic_block_base"] = "8" });

        Assert.Multiple(() =>
        {
            Assert.That(overridden.ToString(), Is.EqualTo("2 intra-op threads (cores available: 2), sequential, no spinning, dynamic blocks (base 4)"));
            Assert.That(overridden.SessionConfigEntries(), Is.EqualTo(new Dictionary<string, string> { ["session.intra_op.allow_spinning"] = "0", ["session.dynamic_block_base"] = "4" }));
            Assert.That(other.DynamicBlockBase, Is.EqualTo(8));
            Assert.That(other.AllowSpinning, Is.True);
        });
    }

    [Test]
    public async Task A_cpu_entrys_session_config_shows_in_the_models_threading_and_its_ids_do_not_change()
    {
        var plain = new GptOptions { ModelPath = TestPaths.TinyShakespeare, IntraOpNumThreads = 2 };
        var spinning = new GptOptions { ModelPath = TestPaths.TinyShakespeare, IntraOpNumThreads = 2 };
        var entry = new ExecutionProviderOptions(ExecutionProviderOptions.Cpu);
        entry.SessionConfigEntries["session.intra_op.allow_spinning"] = "0";
        entry.SessionConfigEntries["session.dynamic_block_base"] = "4";
        spinning.ExecutionProviders.Add(entry);

        using var plainModel = GptModel.Load(plain);
        using var spinningModel = GptModel.Load(spinning);
        var options = new GenerationOptions { DoSample = false, MaxNewTokens = 12 };
        var plainIds = (await GptGenerator.Create(plainModel).GenerateAsync("ROMEO:", options)).TokenIds;
        var spinningIds = (await GptGenerator.Create(spinningModel).GenerateAsync("ROMEO:", options)).TokenIds;

        Assert.Multiple(() =>
        {
            Assert.That(plainModel.Threading.AllowSpinning, Is.True);
            Assert.That(plainModel.Threading.DynamicBlockBase, Is.Zero);
            Assert.That(spinningModel.Threading.AllowSpinning, Is.False);
            Assert.That(spinningModel.Threading.DynamicBlockBase, Is.EqualTo(4));
            Assert.That(spinningIds, Is.EqualTo(plainIds));
            Assert.That(plainIds, Has.Count.EqualTo(12));
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
            Assert.That(wideModel.Threading.AllowSpinning, Is.True);
            Assert.That(entryModel.Threading.IntraOpThreads, Is.EqualTo(3));
            Assert.That(entryModel.Threading.Source, Is.EqualTo("IntraOpNumThreads"));
        });
    }
}
