#if ONNXGPT_GENAI
using System.Globalization;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace OnnxGpt.Bench;

/// <summary>
/// ONNX Runtime GenAI on the same folder through its <c>genai_config.json</c>: a <see cref="Model"/> loaded once, and per
/// request <see cref="GeneratorParams"/> (greedy, max_length = prompt + new tokens), a <see cref="Generator"/>, the prompt
/// appended, then <see cref="Generator.GenerateNextToken"/> until done.
/// </summary>
internal sealed class GenAiLoop : IGenerationLoop
{
    private readonly Config _config;
    private readonly Model _model;

    public GenAiLoop(ModelFolder folder, int? threads)
    {
        _config = new Config(folder.Directory);
        try
        {
            if (folder.Variant is not null)
            {
                _config.Overlay("{\"model\":{\"decoder\":{\"filename\":\"" + System.Text.Json.JsonEncodedText.Encode(Path.GetRelativePath(folder.Directory, folder.GraphPath).Replace('\\', '/')) + "\"}}}");
            }

            if (threads is > 0)
            {
                var json = "{\"model\":{\"decoder\":{\"session_options\":{\"intra_op_num_threads\":" + threads.Value.ToString(CultureInfo.InvariantCulture) + "}}}}";
                _config.Overlay(json);
            }

            _model = new Model(_config);
        }
        catch
        {
            _config.Dispose();
            throw;
        }
    }

    public string Name => GenAiAvailability.DisplayName;

    public ValueTask GenerateAsync(int[] prompt, int newTokens, TokenRecorder recorder, CancellationToken cancellationToken)
    {
        using var parameters = new GeneratorParams(_model);
        parameters.SetSearchOption("do_sample", false);
        parameters.SetSearchOption("max_length", prompt.Length + newTokens);
        using var generator = new Generator(_model, parameters);
        generator.AppendTokens(prompt);
        while (!generator.IsDone())
        {
            cancellationToken.ThrowIfCancellationRequested();
            generator.GenerateNextToken();
            if (!recorder.OnToken(generator.GetNextTokens()[0]))
            {
                break;
            }
        }

        return ValueTask.CompletedTask;
    }

    public void Dispose()
    {
        _model.Dispose();
        _config.Dispose();
    }
}
#endif
