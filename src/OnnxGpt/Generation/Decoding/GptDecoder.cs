using OnnxGpt.Models;
using OnnxGpt.Tokenization;
using OnnxGpt.Generation;

namespace OnnxGpt.Generation.Decoding;

/// <summary>
/// For backend authors: a model whose forward passes OnnxGpt's one generation loop drives (as it drives its own ONNX
/// Runtime sessions). The loop resolves and checks each request, prepares the prompt, opens a
/// <see cref="DecoderSequence"/> for it (or continues its conversation's kept one), runs the prompt and each step,
/// samples (or takes the backend's own choice, <see cref="SamplesNatively"/>), decodes, matches stop sequences, ends
/// the request with one finish, cancellation and result path, records telemetry, and keeps conversations under one
/// policy (<see cref="GptOptions.MaxKeptConversations"/>, least recently used dropped). Serve it with
/// <see cref="DecoderGenerator.Create"/>.
/// <para>
/// Disposing the decoder disposes the kept conversations; requests still running end with
/// <see cref="ObjectDisposedException"/> before their next run, and <see cref="ReleaseResources"/> runs once the
/// last of their sequences is disposed.
/// </para>
/// </summary>
public abstract class GptDecoder : IGenerationModel, IDisposable
{
    private readonly Lock _gate = new();
    private int _open;
    private bool _disposed;

    /// <summary>Sets what every decoder has.</summary>
    /// <param name="info">What the model is (vocabulary, context, special tokens, defaults).</param>
    /// <param name="options">The options it was loaded with (their <see cref="GptOptions.Generation"/> defaults apply to every request).</param>
    /// <param name="executionProvider">The execution provider that serves it, reported in every result.</param>
    protected GptDecoder(GptModelInfo info, GptOptions options, string executionProvider)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(executionProvider);
        Info = info;
        Options = options;
        ExecutionProvider = executionProvider;
        Conversations = new ConversationStore<DecoderSequence>(options.MaxKeptConversations);
    }

    /// <summary>What the model is.</summary>
    public GptModelInfo Info { get; }

    /// <summary>The options the model was loaded with.</summary>
    public GptOptions Options { get; }

    /// <summary>The execution provider that serves the model.</summary>
    public string ExecutionProvider { get; }

    /// <summary>OnnxGpt's tokenizer for the model (prompts and streamed text), or null when the backend tokenizes itself (<see cref="Encode"/>, <see cref="CreateTextStream"/>).</summary>
    public virtual GptTokenizer? Tokenizer => null;

    /// <summary>Whether the backend chooses tokens itself (<see cref="DecoderSequence.GenerateNext"/>) instead of giving logits to OnnxGpt's sampler.</summary>
    public abstract bool SamplesNatively { get; }

    /// <summary>Conversations whose sequence is kept now.</summary>
    public int KeptConversationCount => Conversations.Count;

    /// <summary>The model's own defaults, applied under <see cref="GptOptions.Generation"/> (default: <see cref="GptModelInfo.Defaults"/>).</summary>
    protected internal virtual GenerationOptions ModelDefaults => Info.Defaults.ToOptions();

    /// <summary>Whether <see cref="Dispose()"/> has been called.</summary>
    protected bool IsDisposed
    {
        get
        {
            lock (_gate)
            {
                return _disposed;
            }
        }
    }

    internal ConversationStore<DecoderSequence> Conversations { get; }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;

            // Kept sequences are no request's: they go now; a request still running disposes its own when it ends.
            Conversations.Dispose();
            if (_open > 0)
            {
                return;
            }
        }

        ReleaseResources();
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc />
    ITokenTextStream? IGenerationModel.CreateTextStream() => Tokenizer is null ? CreateTextStream() : null;

    /// <summary>Checks a request's own settings before defaults apply: throw <see cref="ArgumentException"/> naming a setting the backend lacks.</summary>
    /// <param name="options">The request's settings, or null.</param>
    protected internal virtual void ValidateOptions(GenerationOptions? options)
    {
    }

    /// <summary>Checks a resolved request before any work (its backend options, constraints): throw <see cref="ArgumentException"/> or <see cref="NotSupportedException"/> naming the problem.</summary>
    /// <param name="request">The request.</param>
    protected internal virtual void Validate(DecoderRequest request)
    {
    }

    /// <summary>Whether <paramref name="request"/> may continue and keep its conversation's sequence; false: it neither uses nor keeps it.</summary>
    /// <param name="request">The request (its <see cref="DecoderRequest.ConversationId"/> is set).</param>
    /// <returns>True by default.</returns>
    protected internal virtual bool CanUseConversation(DecoderRequest request) => true;

    /// <summary>Tokenizes a text prompt when <see cref="Tokenizer"/> is null.</summary>
    /// <param name="text">The text.</param>
    /// <param name="addSpecialTokens">Whether to add the tokenizer's special tokens (bos).</param>
    /// <returns>The ids.</returns>
    protected internal virtual IReadOnlyList<int> Encode(string text, bool addSpecialTokens) =>
        Tokenizer?.Encode(text, addSpecialTokens)
        ?? throw new InvalidOperationException($"The model at '{Info.ModelPath}' has no tokenizer files (vocab.json + merges.txt, tokenizer.model or tokenizer.json); give the prompt as token ids instead.");

    /// <summary>A text stream of the backend's tokenizer for one request's output, used when <see cref="Tokenizer"/> is null; null: no text.</summary>
    /// <returns>The stream, or null.</returns>
    protected internal virtual ITokenTextStream? CreateTextStream() => null;

    /// <summary>Opens a fresh sequence for a request (its prompt is run afterwards with <see cref="DecoderSequence.Append"/>).</summary>
    /// <param name="request">The request.</param>
    /// <returns>The sequence, which the loop disposes (or keeps for the conversation).</returns>
    protected internal abstract DecoderSequence Open(DecoderRequest request);

    /// <summary>Releases the model's native resources, once it is disposed and no sequence of it is open.</summary>
    protected abstract void ReleaseResources();

    /// <summary>Counts a sequence as open; throws once the decoder is disposed.</summary>
    internal void EnterSequence()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _open++;
        }
    }

    /// <summary>A sequence was disposed (or kept): releases the model when it was the last of a disposed decoder.</summary>
    internal void ExitSequence()
    {
        bool release;
        lock (_gate)
        {
            release = --_open == 0 && _disposed;
        }

        if (release)
        {
            ReleaseResources();
        }
    }

    /// <summary>Throws when the decoder was disposed: a running request ends before its next run.</summary>
    internal void ThrowIfDisposed()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
        }
    }
}
