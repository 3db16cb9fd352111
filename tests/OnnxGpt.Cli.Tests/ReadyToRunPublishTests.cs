namespace OnnxGpt.Cli.Tests;

public sealed class ReadyToRunPublishTests
{
    [TestCase("-p:RuntimeIdentifier=linux-x64", "true")]
    [TestCase("-p:RuntimeIdentifier=linux-x64 -p:PublishReadyToRun=false", "false")]
    [TestCase("", "")]
    public async Task A_publish_for_a_runtime_is_ReadyToRun_and_a_plain_build_cannot_be(string properties, string expected)
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OnnxGpt.sln")))
        {
            directory = directory.Parent;
        }

        Assert.That(directory, Is.Not.Null, "the repository root (OnnxGpt.sln) above the test's folder");
        var info = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add("msbuild");
        info.ArgumentList.Add(Path.Combine(directory!.FullName, "tools", "OnnxGpt.Cli", "OnnxGpt.Cli.csproj"));
        info.ArgumentList.Add("-getProperty:PublishReadyToRun");
        foreach (var property in properties.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            info.ArgumentList.Add(property);
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();

        Assert.That(process.ExitCode, Is.Zero, output);
        Assert.That(output.Trim(), Is.EqualTo(expected));
    }
}
