using System.Diagnostics;

namespace OnnxGpt.Telemetry;

/// <summary>
/// One request's metrics and span. The generation loop starts it with the request, marks the prompt done, and ends it
/// once, where the request's result is built (or, for a request that never got one, when the loop exits). Nothing is
/// recorded per token.
/// </summary>
internal sealed class RequestTelemetry
{
    private readonly string _model;
    private readonly Activity? _activity;
    private readonly long _started = Stopwatch.GetTimestamp();
    private bool _ended;

    private RequestTelemetry(string model, Activity? activity)
    {
        _model = model;
        _activity = activity;
    }

    /// <summary>Starts a request on the model at <paramref name="modelPath"/>: counts it as running and opens its span.</summary>
    public static RequestTelemetry Start(string modelPath, int? maxTokens, float? temperature, float? topP, int? topK, string? conversationId)
    {
        var model = GenAIInstruments.ModelName(modelPath);
        GenAIInstruments.RunningRequests.Add(1, new KeyValuePair<string, object?>("gen_ai.request.model", model));

        Activity? activity = null;
        if (GenAIInstruments.Source.HasListeners())
        {
            // The span's parent is the caller's current one; the span is not made current, since the request runs
            // across the caller's awaits (an async stream) and must not leak into its context.
            var caller = Activity.Current;
            activity = GenAIInstruments.Source.StartActivity($"{GenAIInstruments.OperationName} {model}", ActivityKind.Internal);
            Activity.Current = caller;
            if (activity is { IsAllDataRequested: true })
            {
                activity.SetTag("gen_ai.operation.name", GenAIInstruments.OperationName);
                activity.SetTag("gen_ai.provider.name", GenAIInstruments.ProviderName);
                activity.SetTag("gen_ai.request.model", model);
                activity.SetTag("gen_ai.request.max_tokens", maxTokens);
                activity.SetTag("gen_ai.request.temperature", temperature);
                activity.SetTag("gen_ai.request.top_p", topP);
                activity.SetTag("gen_ai.request.top_k", topK);
                activity.SetTag("gen_ai.conversation.id", conversationId);
            }
        }

        return new RequestTelemetry(model, activity);
    }

    /// <summary>Whether the request's outcome is recorded.</summary>
    public bool HasEnded => _ended;

    /// <summary>The prompt has run and the first token is chosen: the span's <c>onnxgpt.prefill</c> event.</summary>
    public void Prefilled(int promptTokens, int reusedPromptTokens)
    {
        if (_activity is { IsAllDataRequested: true } activity)
        {
            activity.AddEvent(new ActivityEvent("onnxgpt.prefill", tags: new ActivityTagsCollection
            {
                { "gen_ai.usage.input_tokens", promptTokens },
                { "onnxgpt.reused_prompt_tokens", reusedPromptTokens },
            }));
        }
    }

    /// <summary>
    /// Records the request's outcome once: token usage, durations, time to first token and per output token, the span's
    /// <c>onnxgpt.decode</c> event and result. <paramref name="finishReason"/> is <c>stop</c>, <c>length</c> or <c>cancelled</c>.
    /// </summary>
    public void Finished(string finishReason, int promptTokens, int outputTokens, TimeSpan timeToFirstToken, TimeSpan total)
    {
        if (_ended)
        {
            return;
        }

        _ended = true;
        var cancelled = finishReason == "cancelled";
        var tags = GenAIInstruments.Tags(_model);
        if (cancelled)
        {
            tags.Add("error.type", "cancelled");
        }

        var input = tags;
        input.Add("gen_ai.token.type", "input");
        GenAIInstruments.TokenUsage.Record(promptTokens, input);
        var output = tags;
        output.Add("gen_ai.token.type", "output");
        GenAIInstruments.TokenUsage.Record(outputTokens, output);
        GenAIInstruments.OperationDuration.Record(total.TotalSeconds, tags);
        GenAIInstruments.RequestDuration.Record(total.TotalSeconds, tags);
        if (!cancelled && outputTokens > 0)
        {
            GenAIInstruments.TimeToFirstToken.Record(timeToFirstToken.TotalSeconds, tags);
            if (outputTokens > 1)
            {
                GenAIInstruments.TimePerOutputToken.Record((total - timeToFirstToken).TotalSeconds / (outputTokens - 1), tags);
            }
        }

        if (_activity is { } activity)
        {
            if (activity.IsAllDataRequested)
            {
                activity.AddEvent(new ActivityEvent("onnxgpt.decode", tags: new ActivityTagsCollection { { "gen_ai.usage.output_tokens", outputTokens } }));
                activity.SetTag("gen_ai.response.finish_reasons", new[] { finishReason });
                activity.SetTag("gen_ai.usage.input_tokens", promptTokens);
                activity.SetTag("gen_ai.usage.output_tokens", outputTokens);
            }

            if (cancelled)
            {
                activity.SetTag("error.type", "cancelled");
                activity.SetStatus(ActivityStatusCode.Error, "cancelled");
            }
        }

        End();
    }

    /// <summary>
    /// Ends the request when the loop exits: a request that ended without <see cref="Finished"/> (it failed, or its
    /// caller stopped reading) is recorded with <c>error.type</c> <c>_OTHER</c>.
    /// </summary>
    public void Exited()
    {
        if (!_ended)
        {
            _ended = true;
            var tags = GenAIInstruments.Tags(_model);
            tags.Add("error.type", "_OTHER");
            var seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
            GenAIInstruments.OperationDuration.Record(seconds, tags);
            GenAIInstruments.RequestDuration.Record(seconds, tags);
            if (_activity is { } activity)
            {
                activity.SetTag("error.type", "_OTHER");
                activity.SetStatus(ActivityStatusCode.Error, "The generation ended without a result.");
            }

            End();
        }
    }

    private void End()
    {
        GenAIInstruments.RunningRequests.Add(-1, new KeyValuePair<string, object?>("gen_ai.request.model", _model));
        _activity?.Stop();
    }
}
