using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace OnnxGpt.Models;

/// <summary>What the loader found in a graph's inputs and outputs, in the order the generation loop feeds them.</summary>
internal sealed partial class GraphLayout
{
    public const string InputIdsName = "input_ids";
    public const string AttentionMaskName = "attention_mask";
    public const string PositionIdsName = "position_ids";
    public const string UseCacheBranchName = "use_cache_branch";
    public const string LogitsName = "logits";

    /// <summary>Hugging Face's input that limits the lm_head to the last positions (0: all); <c>onnxgpt optimize</c> adds it.</summary>
    public const string LogitsToKeepName = "num_logits_to_keep";

    private GraphLayout(
        KvCacheConvention convention,
        bool hasAttentionMask,
        bool hasPositionIds,
        bool hasUseCacheBranch,
        string[] pastNames,
        string[] presentNames,
        int keyValueHeads,
        int headSize,
        TensorElementType cacheElementType,
        TensorElementType logitsElementType,
        int? logitsVocabularySize,
        int logitsToKeepRank)
    {
        Convention = convention;
        HasAttentionMask = hasAttentionMask;
        HasPositionIds = hasPositionIds;
        HasUseCacheBranch = hasUseCacheBranch;
        PastNames = pastNames;
        PresentNames = presentNames;
        KeyValueHeads = keyValueHeads;
        HeadSize = headSize;
        CacheElementType = cacheElementType;
        LogitsElementType = logitsElementType;
        LogitsVocabularySize = logitsVocabularySize;
        LogitsToKeepRank = logitsToKeepRank;

        var inputs = new List<string> { InputIdsName };
        if (hasAttentionMask)
        {
            inputs.Add(AttentionMaskName);
        }

        if (hasPositionIds)
        {
            inputs.Add(PositionIdsName);
        }

        FirstPastInput = inputs.Count;
        inputs.AddRange(pastNames);
        if (hasUseCacheBranch)
        {
            inputs.Add(UseCacheBranchName);
        }

        if (logitsToKeepRank >= 0)
        {
            inputs.Add(LogitsToKeepName);
        }

        InputNames = [.. inputs];
        OutputNames = [LogitsName, .. presentNames];
    }

    public KvCacheConvention Convention { get; }

    public bool HasAttentionMask { get; }

    public bool HasPositionIds { get; }

    /// <summary>The position id fed for a sequence's first token (see <see cref="ModelConfiguration.FirstPositionId"/>).</summary>
    public int FirstPositionId { get; private init; }

    public bool HasUseCacheBranch { get; }

    /// <summary>Cache inputs, layer by layer (key then value for <see cref="KvCacheConvention.SeparateKeyValue"/>).</summary>
    public string[] PastNames { get; }

    /// <summary>Cache outputs, in the same order as <see cref="PastNames"/>.</summary>
    public string[] PresentNames { get; }

    public int LayerCount => Convention switch
    {
        KvCacheConvention.SeparateKeyValue => PastNames.Length / 2,
        KvCacheConvention.Combined => PastNames.Length,
        _ => 0,
    };

    public int KeyValueHeads { get; }

    public int HeadSize { get; }

    public TensorElementType CacheElementType { get; }

    public TensorElementType LogitsElementType { get; }

    /// <summary>The last dimension of <c>logits</c> when the graph fixes it.</summary>
    public int? LogitsVocabularySize { get; }

    /// <summary>
    /// Whether the graph takes <see cref="LogitsToKeepName"/> (as an input, or an overridable initializer): a prompt's
    /// run then asks for the last position's logits only.
    /// </summary>
    public bool HasLogitsToKeep => LogitsToKeepRank >= 0;

    /// <summary>The rank of <see cref="LogitsToKeepName"/> (0: a scalar, 1: one value); -1 without it.</summary>
    public int LogitsToKeepRank { get; }

    /// <summary>All inputs in feeding order: ids, mask, positions, past..., use_cache_branch, num_logits_to_keep.</summary>
    public string[] InputNames { get; }

    /// <summary>Index in <see cref="InputNames"/> of the first cache input.</summary>
    public int FirstPastInput { get; }

    /// <summary>All outputs read: logits first, then the cache outputs.</summary>
    public string[] OutputNames { get; }

    /// <summary>Works out the layout from a graph's metadata, or explains why the graph cannot be driven.</summary>
    /// <param name="inputs">The session's input metadata.</param>
    /// <param name="outputs">The session's output metadata.</param>
    /// <param name="config">Configuration files beside the graph, used where the graph leaves a dimension symbolic.</param>
    /// <param name="modelPath">For error messages.</param>
    /// <param name="overridable">The session's overridable initializers (inputs with a default value), if any.</param>
    public static GraphLayout Detect(
        IReadOnlyDictionary<string, NodeMetadata> inputs,
        IReadOnlyDictionary<string, NodeMetadata> outputs,
        ModelConfiguration config,
        string modelPath,
        IReadOnlyDictionary<string, NodeMetadata>? overridable = null)
    {
        if (!inputs.TryGetValue(InputIdsName, out var ids))
        {
            throw new ModelLoadException(modelPath, $"the graph has no '{InputIdsName}' input (its inputs are: {string.Join(", ", inputs.Keys)}). OnnxGpt drives decoder graphs exported with token ids as input.");
        }

        if (ids.ElementDataType != TensorElementType.Int64)
        {
            throw new ModelLoadException(modelPath, $"'{InputIdsName}' is {ids.ElementDataType}; OnnxGpt feeds int64 token ids. Re-export the graph with int64 inputs.");
        }

        if (!outputs.TryGetValue(LogitsName, out var logits))
        {
            throw new ModelLoadException(modelPath, $"the graph has no '{LogitsName}' output (its outputs are: {string.Join(", ", outputs.Keys)}). Export the language-model head (e.g. a *ForCausalLM model), not the bare transformer.");
        }

        if (logits.ElementDataType is not (TensorElementType.Float or TensorElementType.Float16))
        {
            throw new ModelLoadException(modelPath, $"'{LogitsName}' is {logits.ElementDataType}; float32 or float16 logits are supported.");
        }

        if (logits.Dimensions.Length != 3)
        {
            throw new ModelLoadException(modelPath, $"'{LogitsName}' has {logits.Dimensions.Length} dimensions; [batch, sequence, vocabulary] was expected.");
        }

        foreach (var (name, meta) in inputs)
        {
            if (name is AttentionMaskName or PositionIdsName && meta.ElementDataType != TensorElementType.Int64)
            {
                throw new ModelLoadException(modelPath, $"'{name}' is {meta.ElementDataType}; int64 was expected.");
            }
        }

        var hasMask = inputs.ContainsKey(AttentionMaskName);
        var hasPositions = inputs.ContainsKey(PositionIdsName);
        var hasBranch = inputs.ContainsKey(UseCacheBranchName);

        var separatePast = Indexed(inputs.Keys, SeparatePastRegex());
        var combinedPast = Indexed(inputs.Keys, CombinedPastRegex());
        var separatePresent = Indexed(outputs.Keys, SeparatePresentRegex());
        var combinedPresent = Indexed(outputs.Keys, CombinedPresentRegex());

        KvCacheConvention convention;
        string[] pastNames;
        string[] presentNames;
        if (separatePast.Count > 0 || separatePresent.Count > 0)
        {
            convention = KvCacheConvention.SeparateKeyValue;
            pastNames = Ordered(separatePast, modelPath, "past_key_values.{i}.key/value", keyValue: true);
            presentNames = Ordered(separatePresent, modelPath, "present.{i}.key/value", keyValue: true);
        }
        else if (combinedPast.Count > 0 || combinedPresent.Count > 0)
        {
            convention = KvCacheConvention.Combined;
            pastNames = Ordered(combinedPast, modelPath, "past_{i}", keyValue: false);
            presentNames = Ordered(combinedPresent, modelPath, "present_{i}", keyValue: false);
        }
        else
        {
            convention = KvCacheConvention.None;
            pastNames = [];
            presentNames = [];
        }

        if (pastNames.Length != presentNames.Length)
        {
            throw new ModelLoadException(modelPath, $"the graph has {pastNames.Length} cache inputs but {presentNames.Length} cache outputs; each past input needs its present output.");
        }

        var keepRank = -1;
        if ((inputs.GetValueOrDefault(LogitsToKeepName) ?? overridable?.GetValueOrDefault(LogitsToKeepName)) is { } keep)
        {
            if (keep.ElementDataType != TensorElementType.Int64 || keep.Dimensions.Length > 1 || keep.Dimensions is [> 1])
            {
                throw new ModelLoadException(modelPath, $"'{LogitsToKeepName}' is {keep.ElementDataType} of {keep.Dimensions.Length} dimensions; OnnxGpt feeds it as one int64 value.");
            }

            keepRank = keep.Dimensions.Length;
        }

        var known = new HashSet<string>(pastNames, StringComparer.Ordinal) { InputIdsName, AttentionMaskName, PositionIdsName, UseCacheBranchName, LogitsToKeepName };
        var unknown = inputs.Keys.Where(n => !known.Contains(n)).ToList();
        if (unknown.Count > 0)
        {
            throw new ModelLoadException(modelPath, $"the graph has inputs OnnxGpt does not know how to feed: {string.Join(", ", unknown)}.");
        }

        if (hasBranch && convention == KvCacheConvention.None)
        {
            throw new ModelLoadException(modelPath, $"the graph has a '{UseCacheBranchName}' input but no cache inputs.");
        }

        var kvHeads = 0;
        var headSize = 0;
        var cacheType = TensorElementType.Float;
        if (pastNames.Length > 0)
        {
            var first = inputs[pastNames[0]];
            var rank = convention == KvCacheConvention.Combined ? 5 : 4;
            if (first.Dimensions.Length != rank)
            {
                throw new ModelLoadException(modelPath, $"'{pastNames[0]}' has {first.Dimensions.Length} dimensions; {rank} were expected for this cache convention.");
            }

            cacheType = first.ElementDataType;
            if (cacheType is not (TensorElementType.Float or TensorElementType.Float16))
            {
                throw new ModelLoadException(modelPath, $"'{pastNames[0]}' is {cacheType}; float32 or float16 caches are supported.");
            }

            var offset = rank - 4;
            kvHeads = first.Dimensions[1 + offset] > 0 ? first.Dimensions[1 + offset] : config.KeyValueHeads ?? 0;
            headSize = first.Dimensions[3 + offset] > 0 ? first.Dimensions[3 + offset] : config.HeadSize ?? 0;
            if (kvHeads <= 0 || headSize <= 0)
            {
                throw new ModelLoadException(modelPath, $"the cache dimensions of '{pastNames[0]}' are symbolic and config.json does not give the number of key/value heads and the head size.");
            }

            foreach (var name in pastNames)
            {
                if (inputs[name].ElementDataType != cacheType)
                {
                    throw new ModelLoadException(modelPath, $"'{name}' is {inputs[name].ElementDataType} but '{pastNames[0]}' is {cacheType}; all cache tensors must share one element type.");
                }
            }
        }

        var vocab = logits.Dimensions[2] > 0 ? logits.Dimensions[2] : (int?)null;
        return new GraphLayout(convention, hasMask, hasPositions, hasBranch, pastNames, presentNames, kvHeads, headSize, cacheType, logits.ElementDataType, vocab, keepRank)
        {
            FirstPositionId = config.FirstPositionId,
        };
    }

    /// <summary>
    /// Checks that the first-step graph of a split export takes this graph's inputs without the cache and
    /// returns the same outputs, so the two can share one loop.
    /// </summary>
    public void CheckPrefillGraph(IReadOnlyDictionary<string, NodeMetadata> inputs, IReadOnlyDictionary<string, NodeMetadata> outputs, string modelPath)
    {
        var expectedInputs = InputNames[..FirstPastInput];
        var unexpected = inputs.Keys.Except(expectedInputs, StringComparer.Ordinal).ToList();
        var missingInputs = expectedInputs.Except(inputs.Keys, StringComparer.Ordinal).ToList();
        var missingOutputs = OutputNames.Except(outputs.Keys, StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0 || missingInputs.Count > 0 || missingOutputs.Count > 0)
        {
            throw new ModelLoadException(modelPath, "decoder_model.onnx does not match decoder_with_past_model.onnx: "
                + string.Join("; ", new[]
                {
                    unexpected.Count > 0 ? $"unexpected inputs {string.Join(", ", unexpected)}" : null,
                    missingInputs.Count > 0 ? $"missing inputs {string.Join(", ", missingInputs)}" : null,
                    missingOutputs.Count > 0 ? $"missing outputs {string.Join(", ", missingOutputs)}" : null,
                }.Where(m => m is not null)) + ".");
        }
    }

    private static SortedDictionary<int, List<string>> Indexed(IEnumerable<string> names, Regex pattern)
    {
        var result = new SortedDictionary<int, List<string>>();
        foreach (var name in names)
        {
            var match = pattern.Match(name);
            if (!match.Success)
            {
                continue;
            }

            var index = int.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
            if (!result.TryGetValue(index, out var list))
            {
                result[index] = list = [];
            }

            list.Add(name);
        }

        return result;
    }

    private static string[] Ordered(SortedDictionary<int, List<string>> byLayer, string modelPath, string pattern, bool keyValue)
    {
        var names = new List<string>();
        var expected = 0;
        foreach (var (layer, list) in byLayer)
        {
            if (layer != expected)
            {
                throw new ModelLoadException(modelPath, $"the cache tensors '{pattern}' skip layer {expected}; layers must be numbered 0, 1, 2, ... without gaps.");
            }

            expected++;
            if (keyValue)
            {
                var key = list.Find(n => n.EndsWith(".key", StringComparison.Ordinal));
                var value = list.Find(n => n.EndsWith(".value", StringComparison.Ordinal));
                if (key is null || value is null)
                {
                    throw new ModelLoadException(modelPath, $"layer {layer} of '{pattern}' lacks its {(key is null ? "key" : "value")} tensor.");
                }

                names.Add(key);
                names.Add(value);
            }
            else
            {
                names.Add(list[0]);
            }
        }

        return [.. names];
    }

    [GeneratedRegex(@"^past_key_values\.(\d+)\.(key|value)$")]
    private static partial Regex SeparatePastRegex();

    [GeneratedRegex(@"^present\.(\d+)\.(key|value)$")]
    private static partial Regex SeparatePresentRegex();

    [GeneratedRegex(@"^past_(\d+)$")]
    private static partial Regex CombinedPastRegex();

    [GeneratedRegex(@"^present_(\d+)$")]
    private static partial Regex CombinedPresentRegex();
}
