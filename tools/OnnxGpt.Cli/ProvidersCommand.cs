using System.CommandLine;
using System.Text.Json;
using OnnxGpt.Providers;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt providers</c>: a doctor for execution providers on this machine.</summary>
internal static class ProvidersCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var json = CommonOptions.Json();
        var command = new Command("providers", "List the ONNX Runtime natives in use, whether each execution provider loads here (and if not why), and the devices ONNX Runtime sees.")
        {
            model, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var modelPath = r.GetValue(model) ?? CommonOptions.DefaultModelPath;
            var report = ExecutionProviderDiagnostics.Diagnose(GraphOf(modelPath));
            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(JsonSerializer.Serialize(report, CliJsonContext.Output.ExecutionProviderReport));
            }
            else
            {
                await stdout.WriteLineAsync($"ONNX Runtime {report.OnnxRuntimeVersion}, natives: {report.NativePackage}");
                await stdout.WriteLineAsync($"built with: {string.Join(", ", report.BuiltWith)}");
                foreach (var p in report.Providers)
                {
                    await stdout.WriteLineAsync($"  {p.Name,-9} {(p.Loads ? "loads" : "cannot load: " + p.Reason)}");
                }

                await stdout.WriteLineAsync($"devices: {string.Join("; ", report.Devices)}");
                await stdout.WriteLineAsync($"cpu threads: {report.CpuThreads}");
            }

            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The graph a model path stands for (in the folder or its onnx/ subfolder), or null when none can be found.</summary>
    private static string? GraphOf(string modelPath)
    {
        try
        {
            return OnnxGpt.Models.ModelFolder.Resolve(modelPath).GraphPath;
        }
        catch (OnnxGpt.ModelLoadException)
        {
            // The diagnosis runs without a graph; loading the model reports what is wrong with it.
            return null;
        }
    }
}
