using Microsoft.ML.OnnxRuntimeGenAI;

namespace OnnxGpt.GenAI;

/// <summary>
/// One onnxruntime-genai generator (its KV cache) with the parameters it was created from, what it was created for
/// (search options and adapter), and the token ids its sequence holds. A request owns one while it runs; a finished
/// turn of a conversation hands it to the conversation store for the next turn.
/// </summary>
internal sealed class GenAISequence : IDisposable
{
    private readonly GeneratorParams _parameters;
    private bool _disposed;

    /// <summary>Creates the generator; the parameters are kept alive with it and disposed after it.</summary>
    /// <param name="model">The model.</param>
    /// <param name="search">The search options to create it with.</param>
    /// <param name="guidance">The constraint (guidance type and data), or null.</param>
    /// <param name="adapters">The loaded adapters, when <paramref name="adapter"/> is set.</param>
    /// <param name="adapter">The adapter to activate, or null for the base model.</param>
    public GenAISequence(Model model, GenAISearchSettings search, (string Type, string Data)? guidance, Adapters? adapters, string? adapter)
    {
        _parameters = new GeneratorParams(model);
        Generator? generator = null;
        try
        {
            search.Apply(_parameters);
            if (guidance is { } g)
            {
                _parameters.SetGuidance(g.Type, g.Data, false);
            }

            generator = new Generator(model, _parameters);
            if (adapter is not null)
            {
                generator.SetActiveAdapter(adapters!, adapter);
            }
        }
        catch
        {
            generator?.Dispose();
            _parameters.Dispose();
            throw;
        }

        Generator = generator;

        Search = search;
        Adapter = adapter;
    }

    /// <summary>The onnxruntime-genai generator.</summary>
    public Generator Generator { get; }

    /// <summary>The search options the generator was created with.</summary>
    public GenAISearchSettings Search { get; }

    /// <summary>The active adapter, or null for the base model.</summary>
    public string? Adapter { get; }

    /// <summary>
    /// The token ids of the generator's sequence once a turn has finished: the prompt and every generated token.
    /// Its KV cache holds all but the last (a generated token is only run with the next one).
    /// </summary>
    public int[] SequenceIds { get; set; } = [];

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Generator.Dispose();
        _parameters.Dispose();
    }
}
