using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Cli;

/// <summary><c>onnxgpt quantize</c>: rewrites a model's MatMul weights as 4- or 8-bit <c>MatMulNBits</c>.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "The float32 model folder (model.onnx or onnx/model.onnx) or .onnx file.", HelpName = "DIR", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "The folder to write (created when missing).", HelpName = "DIR", Required = true };
        var bits = NumberOption.Create<int>("--bits", 4, "Bits per weight: 4 or 8.", "N");
        var blockSize = NumberOption.Create<int>("--block-size", 32, "Weights per block along K, each with its own scale (a power of two, 16 or more).", "N");
        var symmetric = new Option<bool>("--symmetric") { Description = "Scale from each block's largest magnitude, no zero points (the default)." };
        var asymmetric = new Option<bool>("--asymmetric") { Description = "Min/max per block with a zero point." };
        var accuracy = NumberOption.Create<int>("--accuracy-level", 4, "MatMulNBits accuracy_level: 0 unset, 1 fp32, 2 fp16, 3 bf16, 4 int8 (fastest on CPU).", "N");
        var exclude = new Option<string[]>("--exclude") { Description = "A MatMul node or weight name to keep in float (repeatable).", HelpName = "NAME", AllowMultipleArgumentsPerToken = true };
        var embedding = new Option<bool>("--quantize-embedding") { Description = "Also write the token embedding's Gather as com.microsoft GatherBlockQuantized with the same bits, block size and packing (off by default, as onnxruntime-genai's builder)." };
        var variant = new Option<string?>("--variant") { Description = "Write onnx/model_NAME.onnx (the hub layout's variant naming) instead of model.onnx.", HelpName = "NAME" };
        var json = CommonOptions.Json();
        var command = new Command("quantize", "Rewrite every MatMul with a constant weight (the tied lm_head included) as com.microsoft MatMulNBits with 4- or 8-bit block-quantized weights, as onnxruntime's matmul_nbits_quantizer does; copies configuration and tokenizer files.")
        {
            model, output, bits, blockSize, symmetric, asymmetric, accuracy, exclude, embedding, variant, json,
        };

        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            if (r.GetValue(symmetric) && r.GetValue(asymmetric))
            {
                throw new CliUsageException("Give --symmetric or --asymmetric, not both.");
            }

            var options = new QuantizeOptions
            {
                Bits = r.GetValue(bits),
                BlockSize = r.GetValue(blockSize),
                Symmetric = !r.GetValue(asymmetric),
                AccuracyLevel = r.GetValue(accuracy),
                Variant = r.GetValue(variant),
                QuantizeEmbedding = r.GetValue(embedding),
            };
            foreach (var name in r.GetValue(exclude) ?? [])
            {
                options.Exclude.Add(name);
            }

            var watch = Stopwatch.StartNew();
            var result = await Task.Run(() => ModelQuantizer.Quantize(r.GetValue(model)!, r.GetValue(output)!, options, ct), ct);
            var stdout = r.InvocationConfiguration.Output;
            if (r.GetValue(json))
            {
                await stdout.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(
                    new QuantizeJson(result.GraphPath, result.Quantized.Count, result.QuantizedEmbedding, result.Skipped, result.SourceBytes, result.OutputBytes, watch.Elapsed.TotalSeconds),
                    CliJsonContext.Output.QuantizeJson));
            }
            else
            {
                var mb = (long b) => (b / 1e6).ToString("F1", CultureInfo.InvariantCulture);
                await stdout.WriteLineAsync($"{result.GraphPath}: {result.Quantized.Count} MatMul weights as {options.Bits}-bit MatMulNBits (block {options.BlockSize}, {(options.Symmetric ? "symmetric" : "asymmetric")}, accuracy level {options.AccuracyLevel}); {mb(result.SourceBytes)} MB -> {mb(result.OutputBytes)} MB in {watch.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
                if (result.QuantizedEmbedding is { } table)
                {
                    await stdout.WriteLineAsync($"  embedding {table} as {options.Bits}-bit GatherBlockQuantized");
                }

                foreach (var skip in result.Skipped)
                {
                    await stdout.WriteLineAsync($"  kept in float: {skip}");
                }
            }

            await stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>What <c>quantize --json</c> prints.</summary>
internal sealed record QuantizeJson(string Graph, int Quantized, string? QuantizedEmbedding, IReadOnlyList<string> Skipped, long SourceBytes, long OutputBytes, double Seconds);
