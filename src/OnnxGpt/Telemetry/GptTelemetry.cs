namespace OnnxGpt.Telemetry;

/// <summary>
/// The names under which OnnxGpt publishes metrics and traces (System.Diagnostics; no OpenTelemetry dependency).
/// With OpenTelemetry: <c>.WithMetrics(m =&gt; m.AddMeter(GptTelemetry.MeterName))</c> and
/// <c>.WithTracing(t =&gt; t.AddSource(GptTelemetry.ActivitySourceName))</c>.
/// </summary>
/// <remarks>
/// <para>
/// Metrics follow OpenTelemetry's semantic conventions for generative AI, one measurement per request, with
/// <c>gen_ai.operation.name</c> (<c>text_completion</c>), <c>gen_ai.provider.name</c> (<c>onnxgpt</c>) and
/// <c>gen_ai.request.model</c> (the model folder's name): <c>gen_ai.client.token.usage</c> (histogram of tokens, with
/// <c>gen_ai.token.type</c> <c>input</c> or <c>output</c>), <c>gen_ai.client.operation.duration</c> and
/// <c>gen_ai.server.request.duration</c> (seconds, with <c>error.type</c> for a request that did not finish:
/// <c>cancelled</c> or <c>_OTHER</c>), <c>gen_ai.server.time_to_first_token</c> and
/// <c>gen_ai.server.time_per_output_token</c> (seconds). OnnxGpt's own: <c>onnxgpt.requests.running</c> (generations
/// running), <c>onnxgpt.requests.queued</c> (requests waiting for <c>MaxConcurrentRequests</c>) and
/// <c>onnxgpt.cache.pool.bytes</c> (the KV cache pool's memory, rented and idle).
/// </para>
/// <para>
/// Traces: a span per request, <c>text_completion {model}</c>, with the request's settings
/// (<c>gen_ai.request.max_tokens</c>, <c>gen_ai.request.temperature</c>, <c>gen_ai.request.top_p</c>,
/// <c>gen_ai.request.top_k</c>, <c>gen_ai.conversation.id</c>), an <c>onnxgpt.prefill</c> event when the prompt has
/// run (its tokens and how many came from a kept conversation's cache), an <c>onnxgpt.decode</c> event when the last
/// token is out, and the outcome: <c>gen_ai.response.finish_reasons</c>, <c>gen_ai.usage.input_tokens</c>,
/// <c>gen_ai.usage.output_tokens</c>, and an error status for a cancelled or failed request.
/// </para>
/// </remarks>
public static class GptTelemetry
{
    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/>'s name: <c>OnnxGpt</c>.</summary>
    public const string MeterName = "OnnxGpt";

    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/>'s name: <c>OnnxGpt</c>.</summary>
    public const string ActivitySourceName = "OnnxGpt";
}
