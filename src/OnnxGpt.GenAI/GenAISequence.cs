using Microsoft.ML.OnnxRuntimeGenAI;
using OnnxGpt.Generation.Decoding;

namespace OnnxGpt.GenAI;

/// <summary>
/// One onnxruntime-genai generator (its KV cache) as a sequence of OnnxGpt's generation loop, with the parameters it
/// was created from and what it was created for (search options and adapter). onnxruntime-genai samples natively:
/// <see cref="GenerateNext"/> runs the last chosen token (or nothing after <see cref="Append"/>) and chooses the next.
/// Cancellation stops a run in progress through onnxruntime-genai's <c>terminate_session</c>.
/// </summary>
internal sealed class GenAISequence : DecoderSequence
{
    private readonly GenAIDecoder _owner;
    private readonly GeneratorParams _parameters;
    private readonly bool _keepable;
    private CancellationToken _cancellationToken;
    private CancellationTokenRegistration _registration;
    private int _tokens;
    private bool _lastUnrun;
    private bool _disposed;

    /// <summary>Creates the generator; the parameters are kept alive with it and disposed after it.</summary>
    /// <param name="owner">The decoder (it learns when this model's generators cannot rewind).</param>
    /// <param name="model">The model.</param>
    /// <param name="search">The search options to create it with.</param>
    /// <param name="guidance">The constraint (guidance type and data), or null.</param>
    /// <param name="adapters">The loaded adapters, when <paramref name="adapter"/> is set.</param>
    /// <param name="adapter">The adapter to activate, or null for the base model.</param>
    /// <param name="keepable">Whether a finished turn may keep it for its conversation.</param>
    public GenAISequence(GenAIDecoder owner, Model model, GenAISearchSettings search, (string Type, string Data)? guidance, Adapters? adapters, string? adapter, bool keepable)
    {
        _owner = owner;
        _keepable = keepable;
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

    /// <summary>The cache holds every token of the sequence but a generated one not yet run with the next.</summary>
    public override int Length => _lastUnrun ? _tokens - 1 : _tokens;

    public override bool IsDone => Generator.IsDone();

    public override bool CanKeep => _keepable && !_owner.RewindUnsupported;

    /// <summary>onnxruntime-genai refuses to rewind a cache to its own length: one token less.</summary>
    protected override int MaxRewindLength => Length - 1;

    public override void Append(ReadOnlySpan<int> tokens)
    {
        try
        {
            Generator.AppendTokens(tokens);
        }
        catch (OnnxRuntimeGenAIException) when (_cancellationToken.IsCancellationRequested)
        {
            // terminate_session stopped the run.
            throw new OperationCanceledException(_cancellationToken);
        }

        _tokens += tokens.Length;
        _lastUnrun = false;
    }

    public override int GenerateNext()
    {
        try
        {
            Generator.GenerateNextToken();
        }
        catch (OnnxRuntimeGenAIException) when (_cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(_cancellationToken);
        }

        _tokens++;
        _lastUnrun = true;
        return Generator.GetNextTokens()[0];
    }

    public override bool TryRewind(int length)
    {
        try
        {
            Generator.RewindTo((ulong)length);
        }
        catch (OnnxRuntimeGenAIException ex)
        {
            _owner.RewindFailed(ex);
            return false;
        }

        _tokens = length;
        _lastUnrun = false;
        return true;
    }

    /// <summary>A kept generator serves the next turn only with the same search options and adapter.</summary>
    protected override bool CanContinue(DecoderRequest request) =>
        string.Equals(Adapter, _owner.AdapterFor(request), StringComparison.Ordinal) && Search.CanContinueWith(_owner.SearchFor(request));

    /// <summary>Cancellation also stops a model run in progress (a long prompt), through onnxruntime-genai's terminate_session.</summary>
    protected override void Attach(DecoderRequest request)
    {
        _registration.Dispose();
        _cancellationToken = request.CancellationToken;
        _registration = request.CancellationToken.Register(static state => ((Generator)state!).SetRuntimeOption("terminate_session", "1"), Generator);
    }

    protected override void Detach()
    {
        // The registration's callback has run or never will once it is disposed.
        _registration.Dispose();
        _registration = default;
        _cancellationToken = CancellationToken.None;
    }

    protected override void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _registration.Dispose();
        Generator.Dispose();
        _parameters.Dispose();
        base.Dispose(disposing);
    }
}
