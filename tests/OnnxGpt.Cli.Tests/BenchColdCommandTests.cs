namespace OnnxGpt.Cli.Tests;

public sealed class BenchColdCommandTests
{
    [Test]
    public void Env_takes_a_label_and_comma_separated_variables()
    {
        var (label, variables, executable) = BenchCommand.ParseEnvironment("jit=DOTNET_TieredPGO=0,DOTNET_TC_QuickJitForLoops=1");

        Assert.That(label, Is.EqualTo("jit"));
        Assert.That(executable, Is.Null);
        Assert.That(variables, Is.EqualTo(new Dictionary<string, string> { ["DOTNET_TieredPGO"] = "0", ["DOTNET_TC_QuickJitForLoops"] = "1" }));
    }

    [TestCase("DOTNET_TieredPGO")]
    [TestCase("=DOTNET_TieredPGO=0")]
    [TestCase("jit=DOTNET_TieredPGO")]
    public void Env_without_a_label_or_a_value_is_a_usage_error(string text)
    {
        Assert.Throws<CliUsageException>(() => BenchCommand.ParseEnvironment(text));
    }
}
