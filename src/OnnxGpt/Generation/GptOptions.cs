using OnnxGpt.Providers;

namespace OnnxGpt.Generation;

/// <summary>How to load and run one model. Bind it from configuration (e.g. the <c>"Gpt"</c> section) or set it in code.</summary>
public sealed class GptOptions
{
    /// <summary>
    /// The model folder (holding <c>config.json</c> and the tokenizer files, with the graph beside them or in an
    /// <c>onnx/</c> subfolder, as Hugging Face ships it) or an <c>.onnx</c> file.
    /// A relative path is resolved against the current directory, then against the application's folder.
    /// </summary>
    public string? ModelPath { get; set; }

    /// <summary>
    /// Which of the folder's graphs to run, as transformers.js's <c>dtype</c> chooses: <c>fp16</c>, <c>q4</c>, <c>q4f16</c>,
    /// <c>quantized</c>, <c>int8</c>, <c>uint8</c>, <c>bnb4</c> or any other <c>NAME</c> of a <c>model_NAME.onnx</c> present
    /// (also <c>decoder_model_merged_NAME.onnx</c> and the split layout's pair). Null (or <c>fp32</c>): <c>model.onnx</c>.
    /// A variant that is not there fails the load with a <see cref="ModelLoadException"/> listing those that are.
    /// </summary>
    public string? Variant { get; set; }

    /// <summary>
    /// The execution providers to try, in order; the first that creates a working session serves the model.
    /// Empty means CPU alone. A provider that cannot load is logged with its reason and the next one is tried.
    /// </summary>
    public IList<ExecutionProviderOptions> ExecutionProviders { get; } = new List<ExecutionProviderOptions>();

    /// <summary>
    /// When true, the first entry of <see cref="ExecutionProviders"/> must serve the model: if it cannot load, loading
    /// fails with <see cref="ExecutionProviderException"/> instead of falling back to the next entry.
    /// </summary>
    public bool RequireExecutionProvider { get; set; }

    /// <summary>
    /// Threads ONNX Runtime uses within one operator on the CPU. Null: one per core this process may use (affinity and
    /// cgroup quota, see <see cref="CpuThreading"/>); 0: ONNX Runtime's own default (one per physical core as its cpuinfo
    /// counts them, half the logical processors where cpuinfo fails). <see cref="GptModel.Threading"/> shows the choice.
    /// </summary>
    public int? IntraOpNumThreads { get; set; }

    /// <summary>
    /// Whether the graph is rewritten in memory at load where that changes no result, and the files are never touched.
    /// Today that is one pass: a graph without <c>num_logits_to_keep</c> gets it (as <c>onnxgpt optimize</c>'s
    /// LogitsToKeep fusion adds it), so that a prompt's run scores only its last position instead of every one (on
    /// gpt2-124m the lm_head is 38.6M of its 124M weights per position). Skipped for the split layout, a merged graph,
    /// and an inline graph file above 64 MiB. <see cref="Models.GptModelInfo.GraphRewrites"/> lists what was applied. Default true.
    /// </summary>
    public bool OptimizeGraph { get; set; } = true;

    /// <summary>
    /// The engine that runs the model, by name (ignoring case): <see cref="GptBackend.OnnxGpt"/> (default), or a
    /// registered backend's <see cref="Hosting.IGptBackendFactory.Name"/> such as <see cref="GptBackend.GenAI"/> (needs OnnxGpt.GenAI).
    /// </summary>
    public string Backend { get; set; } = GptBackend.OnnxGpt;

    /// <summary>
    /// The most generations of this model that run at once; further requests wait (see <see cref="MaxQueuedRequests"/>).
    /// Null: no limit.
    /// </summary>
    public int? MaxConcurrentRequests { get; set; }

    /// <summary>
    /// With <see cref="MaxConcurrentRequests"/>, the most requests that wait for a slot; one more is refused with
    /// <see cref="Hosting.GptQueueFullException"/>. Null: no limit.
    /// </summary>
    public int? MaxQueuedRequests { get; set; }

    /// <summary>
    /// Whether concurrent requests of this model run together, one session run per step for all of them (continuous
    /// batching: a new request's prompt runs and it joins the running batch at the next step; a finished one leaves at
    /// once). Each request's greedy output is the same either way. False: each request runs its own session. Models
    /// without a KV cache, and caches in device memory, always run each request alone.
    /// </summary>
    public bool EnableBatching { get; set; } = true;

    /// <summary>The most requests that run in one batch; further ones wait for a row to leave. Default 16.</summary>
    public int MaxBatchSize { get; set; } = 16;

    /// <summary>
    /// How many conversations (<see cref="GenerationOptions.ConversationId"/>) keep their KV cache between turns; the
    /// least recently used is dropped beyond it. Each kept cache holds up to the context length. 0 keeps none.
    /// </summary>
    public int MaxKeptConversations { get; set; } = 16;

    /// <summary>
    /// A smaller model with the same tokenizer (for example the int4 output of <c>onnxgpt quantize</c> for its float
    /// original) that drafts tokens for speculative decoding: it proposes up to <see cref="GenerationOptions.DraftTokens"/>
    /// tokens greedily on its own KV cache, and this model verifies them in one run, keeping the prefix it agrees
    /// with. Greedy output is identical to plain decoding; sampling keeps its distribution. Loaded with the same
    /// execution providers and threads; a draft whose vocabulary or token ids differ fails at load. Null: none.
    /// </summary>
    public string? DraftModelPath { get; set; }

    /// <summary>Application-wide generation defaults; a request's own settings win, and the model's fill what both leave null.</summary>
    public GenerationOptions Generation { get; set; } = new();
}
