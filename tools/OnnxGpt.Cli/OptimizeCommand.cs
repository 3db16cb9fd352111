using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OnnxGpt.Onnx.Optimization;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt optimize</c>: rewrites a model's graph with ONNX Runtime's contrib-operator fusions.</summary>
internal static class OptimizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "The model folder (model.onnx or onnx/model.onnx) or .onnx file; a quantized graph too.", HelpName = "DIR", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "The folder to write (created when missing; the source folder with --variant).", HelpName = "DIR", Required = true };
        var variant = new Option<string?>("--variant") { Description = "Write model_NAME.onnx (beside a model.onnx in the output folder, else onnx/model_NAME.onnx) instead of model.onnx.", HelpName = "NAME" };
        var fusion = new Option<string[]>("--fusion")
        {
            Description = $"A fusion to apply (repeatable; default: all, in this order): {string.Join(", ", GraphOptimizer.FusionNames)}.",
            HelpName = "NAME",
            AllowMultipleArgumentsPerToken = true,
        };
        var json = CommonOptions.Json();
        var command = new Command("optimize", "Fuse the graph as onnxruntime's offline transformer optimizer does (patterns ONNX Runtime does not fuse at load) into com.microsoft operators; prints each fusion's count and the node counts before and after.")
        {
            model, output, variant, fusion, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var options = new OptimizeOptions { ModelPath = r.GetValue(model)!, OutputDirectory = r.GetValue(output)!, Variant = r.GetValue(variant) };
            foreach (var name in r.GetValue(fusion) ?? [])
            {
                options.Fusions.Add(name);
            }

            var watch = Stopwatch.StartNew();
            var result = await Task.Run(() => GraphOptimizer.Optimize(options, ct), ct);
            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(
                    new OptimizeJson(result.GraphPath, result.Fusions.ToDictionary(f => f.Name, f => f.Count), result.NodesBefore, result.NodesAfter,
                        new Dictionary<string, int>(result.OperatorsBefore), new Dictionary<string, int>(result.OperatorsAfter), watch.Elapsed.TotalSeconds),
                    CliJsonContext.Output.OptimizeJson));
            }
            else
            {
                await stdout.WriteLineAsync($"{result.GraphPath}: {result.NodesBefore} -> {result.NodesAfter} nodes in {watch.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
                foreach (var count in result.Fusions)
                {
                    await stdout.WriteLineAsync($"  {count.Name}: {count.Count.ToString(CultureInfo.InvariantCulture)}");
                }

                var changed = result.OperatorsBefore.Keys.Union(result.OperatorsAfter.Keys)
                    .Where(k => result.OperatorsBefore.GetValueOrDefault(k) != result.OperatorsAfter.GetValueOrDefault(k))
                    .Order(StringComparer.Ordinal)
                    .Select(k => $"{k} {result.OperatorsBefore.GetValueOrDefault(k)}->{result.OperatorsAfter.GetValueOrDefault(k)}");
                await stdout.WriteLineAsync($"  operators: {string.Join(", ", changed)}");
            }

            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>What <c>optimize --json</c> prints.</summary>
internal sealed record OptimizeJson(string Graph, Dictionary<string, int> Fusions, int NodesBefore, int NodesAfter, Dictionary<string, int> OperatorsBefore, Dictionary<string, int> OperatorsAfter, double Seconds);
