using System.Diagnostics;
using System.Text;
using OnnxGpt.Constraints;
using OnnxGpt.Generation.Decoding;
using OnnxGpt.Sampling;
using OnnxGpt.Telemetry;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Generation;

/// <summary>
/// One sequence being generated: its ids, sampler, streaming decoder and stop matching, and the result it builds.
/// The generation loop feeds it the next-token scores (<see cref="Advance(Span{float})"/>), or the token a natively sampling
/// backend chose (<see cref="Accept"/>), and streams what it returns.
/// </summary>
internal sealed class SequenceState
{
    private readonly IGenerationModel _model;
    private readonly int[] _sequence;
    private readonly List<int> _generated;
    private readonly StringBuilder _text = new();
    private readonly TokenSampler? _sampler;
    private readonly StreamingDetokenizer? _detokenizer;
    private readonly ITokenTextStream? _textStream;
    private readonly StopSequenceMatcher _stops;
    private readonly int[]? _topIds;
    private readonly int? _topLogprobs;
    private readonly IReadOnlyList<int> _eos;
    private readonly ITokenConstraint? _constraint;
    private readonly long _started;
    private RequestTelemetry? _telemetry;
    private readonly GenerationOptions _settings;
    private long _firstTokenAt;

    /// <param name="model">The model behind the sequence.</param>
    /// <param name="settings">The resolved settings.</param>
    /// <param name="promptIds">The prompt.</param>
    /// <param name="maxNewTokens">The most tokens to generate.</param>
    /// <param name="started">When the request started (<see cref="Stopwatch.GetTimestamp"/>).</param>
    /// <param name="samplesNatively">The backend chooses the tokens (<see cref="Accept"/>): no sampler and no constraint of OnnxGpt's.</param>
    public SequenceState(IGenerationModel model, GenerationOptions settings, IReadOnlyList<int> promptIds, int maxNewTokens, long started, bool samplesNatively = false)
    {
        _model = model;
        PromptIds = promptIds;
        MaxNewTokens = maxNewTokens;
        _started = started;
        _sequence = new int[promptIds.Count + maxNewTokens];
        for (var i = 0; i < promptIds.Count; i++)
        {
            _sequence[i] = promptIds[i];
        }

        _generated = new List<int>(Math.Min(maxNewTokens, 1024));
        _eos = model.Info.EosTokenIds;
        _sampler = samplesNatively ? null : TokenSampler.Create(settings, promptIds.Count, _eos);
        _detokenizer = model.Tokenizer is { } tokenizer ? new StreamingDetokenizer(tokenizer) : null;
        _textStream = _detokenizer is null ? model.CreateTextStream() : null;
        _stops = new StopSequenceMatcher(settings.StopSequences);
        _topLogprobs = settings.TopLogprobs;
        _topIds = _topLogprobs is > 0 ? new int[_topLogprobs.Value] : null;
        _constraint = !samplesNatively && settings.JsonOutput() is { } json
            ? FramedTokenConstraint.Start(json, nameof(GenerationOptions.JsonSchema), RequireTokenizer(model), model.Info.VocabularySize, _eos)
            : null;
        _settings = settings;
    }

    public IReadOnlyList<int> PromptIds { get; }

    /// <summary>
    /// Counts the sequence as a request in the telemetry (its row does, as it is created), until its result or
    /// <see cref="Exited"/>; a next-token distribution is not one.
    /// </summary>
    public void StartTelemetry() =>
        _telemetry ??= RequestTelemetry.Start(_model.Info.ModelPath, MaxNewTokens, _settings.Temperature, _settings.TopP, _settings.TopK, _settings.ConversationId);

    public int MaxNewTokens { get; }

    /// <summary>Prompt tokens taken from a kept conversation cache.</summary>
    public int ReusedPromptTokens { get; set; }

    /// <summary>The prompt followed by the tokens generated so far.</summary>
    public ReadOnlySpan<int> Sequence => _sequence.AsSpan(0, PromptIds.Count + _generated.Count);

    /// <summary>The last token chosen (the one to feed next).</summary>
    public int LastToken { get; private set; }

    /// <summary>Whether the sequence has ended.</summary>
    public bool Finished { get; private set; }

    /// <summary>Tokens drafted for this sequence by speculative decoding, and how many of them were kept.</summary>
    public int DraftedTokens { get; set; }

    /// <summary>Drafted tokens that were kept (see <see cref="DraftedTokens"/>).</summary>
    public int AcceptedDraftTokens { get; set; }

    /// <summary>Tokens generated so far.</summary>
    public int GeneratedCount => _generated.Count;

    /// <summary>Chooses the next token from <paramref name="logits"/> (rewritten in place) and returns it as streamed.</summary>
    public GeneratedToken Advance(Span<float> logits) => Advance(logits, -1);

    /// <summary>
    /// <see cref="Advance(Span{float})"/> at a position whose token was drafted (<paramref name="draft"/>; -1: none): the
    /// sampler keeps or replaces it by the speculative-sampling rule, so the token's distribution is unchanged.
    /// </summary>
    public GeneratedToken Advance(Span<float> logits, int draft)
    {
        var index = _generated.Count;
        if (_model.Tokenizer?.VocabularySize is int size && size < logits.Length)
        {
            // Padded logits: the ids past the tokenizer's vocabulary are no tokens and are never produced.
            logits[size..].Fill(float.NegativeInfinity);
        }

        // Constrained output: the tokens that cannot come next are removed before the sampler sees the scores.
        _constraint?.Mask(logits, MaxNewTokens - index);
        var sampler = _sampler ?? throw new InvalidOperationException("This sequence's backend samples natively: use Accept.");
        var token = sampler.Next(logits, _sequence.AsSpan(0, PromptIds.Count + index), draft, out var logprob);

        // Only when asked: the sampler left the final scores in logits.
        var alternatives = _topLogprobs is { } wanted ? TopLogprobs(logits, wanted) : null;
        return Record(token, logprob, alternatives, backendDone: false);
    }

    /// <summary>Takes the token a natively sampling backend chose and returns it as streamed; <paramref name="backendDone"/>: the backend ended the sequence.</summary>
    public GeneratedToken Accept(int token, bool backendDone) => Record(token, null, null, backendDone);

    private GeneratedToken Record(int token, float? logprob, TokenLogprob[]? alternatives, bool backendDone)
    {
        var index = _generated.Count;
        if (_firstTokenAt == 0)
        {
            _firstTokenAt = Stopwatch.GetTimestamp();
            _telemetry?.Prefilled(PromptIds.Count, ReusedPromptTokens);
        }

        _sequence[PromptIds.Count + index] = token;
        _generated.Add(token);
        LastToken = token;

        FinishReason? finish = null;
        string released;
        if (_eos.Contains(token))
        {
            // A constrained output ends with eos only once its value is whole: that is the stop it asked for.
            finish = _constraint is null ? FinishReason.Eos : FinishReason.Stop;
            released = _stops.Push(FlushText()).Released + _stops.Flush();
        }
        else
        {
            _constraint?.Accept(token);
            var (fragment, stopped) = _stops.Push(AppendText(token));
            released = fragment;
            if (stopped)
            {
                finish = FinishReason.Stop;
            }
            else if (_constraint is { IsComplete: true })
            {
                finish = FinishReason.Stop;
                released += _stops.Push(FlushText()).Released + _stops.Flush();
            }
            else if (_generated.Count >= MaxNewTokens || backendDone)
            {
                // A backend that ends the sequence itself (its constraint completed, its length limit) ends it as eos.
                finish = _generated.Count >= MaxNewTokens ? FinishReason.Length : FinishReason.Eos;
                released += _stops.Push(FlushText()).Released + _stops.Flush();
            }
        }

        _text.Append(released);
        Finished = finish is not null;
        var result = finish is { } reason ? BuildResult(reason) : null;
        return new GeneratedToken(token, released, index, result) { Logprob = logprob, TopLogprobs = alternatives };
    }

    public GenerationResult BuildResult(FinishReason reason) => BuildResult(reason, _generated.Count, _text.Length);

    /// <summary>
    /// The result of the first <paramref name="tokens"/> tokens, whose text is <paramref name="characters"/> long (what
    /// a reader was given). It also ends the request's telemetry (the first time): the one place a request is finalized.
    /// </summary>
    public GenerationResult BuildResult(FinishReason reason, int tokens, int characters)
    {
        var now = Stopwatch.GetTimestamp();
        var timeToFirstToken = Stopwatch.GetElapsedTime(_started, _firstTokenAt == 0 ? now : _firstTokenAt);
        var total = Stopwatch.GetElapsedTime(_started, now);
        _telemetry?.Finished(FinishReasonName(reason), PromptIds.Count, Math.Min(tokens, _generated.Count), timeToFirstToken, total);
        return new GenerationResult
        {
            Text = _text.ToString(0, Math.Min(characters, _text.Length)),
            PromptTokenIds = PromptIds,
            TokenIds = [.. _generated.GetRange(0, Math.Min(tokens, _generated.Count))],
            FinishReason = reason,
            ExecutionProvider = _model.ExecutionProvider,
            TimeToFirstToken = timeToFirstToken,
            TotalTime = total,
            ReusedPromptTokenCount = ReusedPromptTokens,
            DraftedTokenCount = DraftedTokens,
            AcceptedDraftTokenCount = AcceptedDraftTokens,
        };
    }

    /// <summary>
    /// The generation loop is done with this sequence: one that has no result yet (it failed, was cancelled with the
    /// rest of its batch, or its caller stopped reading) ends its telemetry here.
    /// </summary>
    public void Exited(CancellationToken cancellationToken)
    {
        _textStream?.Dispose();
        if (_telemetry is not { HasEnded: false } telemetry)
        {
            return;
        }

        if (cancellationToken.IsCancellationRequested)
        {
            BuildResult(FinishReason.Cancelled);
        }
        else
        {
            telemetry.Exited();
        }
    }

    private static Tokenization.GptTokenizer RequireTokenizer(IGenerationModel model) => model.Tokenizer
        ?? throw new InvalidOperationException($"The model at '{model.Info.ModelPath}' has no tokenizer files; constrained output needs one.");

    private string AppendText(int token) => _detokenizer?.Append(token) ?? _textStream?.Append(token) ?? string.Empty;

    private string FlushText() => _detokenizer?.Flush() ?? _textStream?.Flush() ?? string.Empty;

    /// <summary>The finish reason as OpenTelemetry's <c>gen_ai.response.finish_reasons</c> spell them.</summary>
    internal static string FinishReasonName(FinishReason reason) => reason switch
    {
        FinishReason.Eos or FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Cancelled => "cancelled",
        _ => "_OTHER",
    };

    private TokenLogprob[] TopLogprobs(ReadOnlySpan<float> finalLogits, int count)
    {
        if (count == 0 || _topIds is null)
        {
            return [];
        }

        var n = TokenSampler.Top(finalLogits, _topIds);
        var top = new TokenLogprob[n];
        for (var i = 0; i < n; i++)
        {
            var id = _topIds[i];
            top[i] = new TokenLogprob(id, NextTokenDistribution.Decode(_model.Tokenizer, id), (float)(finalLogits[id] - _sampler!.LastLogSumExp));
        }

        return top;
    }
}
