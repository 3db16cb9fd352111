using OnnxGpt.Constraints;
using OnnxGpt.Sampling;

namespace OnnxGpt.Generation;

/// <summary>
/// Settings for one generation request. Every setting is nullable: null means "the default", which is the
/// application's default (<see cref="Generation.GptOptions.Generation"/>) if it sets one, else the model's own
/// (<c>generation_config.json</c>), else off. The model's file supplies only <see cref="DoSample"/>,
/// <see cref="Temperature"/>, <see cref="TopK"/>, <see cref="TopP"/>, <see cref="MinP"/>,
/// <see cref="RepetitionPenalty"/> and the lengths; every other setting is off unless set here or in the application.
/// </summary>
/// <remarks>
/// The sampling stages run in Hugging Face's order. First the processors, which run whether or not the model samples:
/// <see cref="RepetitionPenalty"/>, <see cref="FrequencyPenalty"/>/<see cref="PresencePenalty"/>,
/// <see cref="NoRepeatNGramSize"/>, <see cref="BannedTokenSequences"/>, <see cref="MinNewTokens"/>,
/// <see cref="LogitBias"/>, then <see cref="CustomStages"/>. Then, only when sampling, the warpers:
/// <see cref="Temperature"/>, <see cref="TopK"/>, <see cref="TopP"/>, <see cref="MinP"/>, <see cref="TypicalP"/>.
/// Greedy generation (<see cref="DoSample"/> false or <see cref="Temperature"/> 0) takes the most likely token after the processors.
/// </remarks>
public sealed class GenerationOptions
{
    /// <summary>The most alternatives <see cref="TopLogprobs"/> may ask for (OpenAI's limit).</summary>
    public const int MaxTopLogprobs = 20;

    /// <summary>The most tokens <see cref="PromptLookupTokens"/> and <see cref="DraftTokens"/> may ask for.</summary>
    public const int MaxSpeculativeTokens = 64;

    /// <summary>
    /// The most tokens to generate. Default: the model's <c>max_new_tokens</c>, else its <c>max_length</c> minus the prompt,
    /// else up to the context length. Generation always ends at the context length with <see cref="FinishReason.Length"/>.
    /// </summary>
    public int? MaxNewTokens { get; set; }

    /// <summary>Whether to sample (true) or always take the most likely token (false, greedy).</summary>
    public bool? DoSample { get; set; }

    /// <summary>Divides the scores before sampling: below 1 sharper, above 1 flatter. 0 means greedy. Must be 0 or more.</summary>
    public float? Temperature { get; set; }

    /// <summary>Keeps only the K most likely tokens (ties with the K-th kept). 0 turns it off. Must be 0 or more.</summary>
    public int? TopK { get; set; }

    /// <summary>Keeps the smallest set of most likely tokens whose probability reaches P (nucleus sampling). Must be in (0, 1].</summary>
    public float? TopP { get; set; }

    /// <summary>Removes tokens less likely than MinP times the most likely token's probability. Must be in [0, 1].</summary>
    public float? MinP { get; set; }

    /// <summary>Penalizes tokens already in the sequence (Hugging Face semantics; 1 is off). Must be more than 0.</summary>
    public float? RepetitionPenalty { get; set; }

    /// <summary>
    /// Locally typical sampling (Hugging Face's <c>typical_p</c>): keeps the tokens whose information content is closest
    /// to the distribution's entropy until their probability reaches this mass. Must be in (0, 1]; 1 is off.
    /// </summary>
    public float? TypicalP { get; set; }

    /// <summary>
    /// OpenAI's frequency penalty: subtracted from a token's score once per time it was generated so far. Only generated
    /// tokens count, not the prompt. Must be in [-2, 2]; 0 is off.
    /// </summary>
    public float? FrequencyPenalty { get; set; }

    /// <summary>
    /// OpenAI's presence penalty: subtracted once from the score of every token generated so far. Only generated tokens
    /// count, not the prompt. Must be in [-2, 2]; 0 is off.
    /// </summary>
    public float? PresencePenalty { get; set; }

    /// <summary>
    /// Forbids repeating any n-gram of this size (Hugging Face's <c>no_repeat_ngram_size</c>), counting the prompt and the
    /// generated tokens. Must be 0 (off) or more.
    /// </summary>
    public int? NoRepeatNGramSize { get; set; }

    /// <summary>
    /// A bias added to the score of each given token id (OpenAI's <c>logit_bias</c>): large negative values all but ban a
    /// token, negative infinity bans it, large positive values all but force it. Ids must be in the vocabulary; biases
    /// must not be NaN or positive infinity.
    /// </summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; set; }

    /// <summary>
    /// Token sequences that must not be generated (Hugging Face's <c>bad_words_ids</c>): a single-token sequence is never
    /// generated; a longer one's last token is removed whenever the sequence so far (prompt included) ends with the rest
    /// of it. Sequences must not be empty; ids must be in the vocabulary.
    /// </summary>
    public IList<IReadOnlyList<int>>? BannedTokenSequences { get; set; }

    /// <summary>
    /// The end-of-sequence tokens are removed until this many tokens were generated (Hugging Face's <c>min_new_tokens</c>).
    /// Must be 0 (off) or more.
    /// </summary>
    public int? MinNewTokens { get; set; }

    /// <summary>
    /// When set, each <see cref="GeneratedToken"/> carries this many most likely alternatives with their log-probabilities
    /// in <see cref="GeneratedToken.TopLogprobs"/> (OpenAI's <c>top_logprobs</c>); 0 gives an empty list. Must be in [0, 20].
    /// Null: none are computed (the chosen token's own <see cref="GeneratedToken.Logprob"/> always is).
    /// </summary>
    public int? TopLogprobs { get; set; }

    /// <summary>
    /// Your own stages, run in this order after the built-in processors (penalties, n-gram blocking, banned sequences,
    /// minimum new tokens, logit bias) and before the warpers (temperature, top-k, top-p, min-p, typical-p); they also run
    /// when generating greedily. A stage instance may be shared by concurrent requests only if it is thread-safe.
    /// </summary>
    public IList<ISamplingStage>? CustomStages { get; set; }

    /// <summary>Seeds the sampler: the same seed, prompt and settings give the same output. Null: a random seed.</summary>
    public int? Seed { get; set; }

    /// <summary>Text that ends generation when it appears; it is not part of the output. Matched across token boundaries.</summary>
    public IList<string>? StopSequences { get; set; }

    /// <summary>
    /// Names a conversation whose turns share a prefix: the model keeps this request's KV cache when it ends, and a
    /// later request with the same id whose prompt starts with the same tokens (the earlier prompt and reply, then the
    /// new turn) runs only the new tokens. Null: nothing is kept. A few recent conversations are kept per model;
    /// an evicted or mismatched one simply runs its whole prompt again.
    /// </summary>
    public string? ConversationId { get; set; }

    /// <summary>
    /// Constrains the output to a JSON text that matches this JSON schema: at every step only the tokens that keep the
    /// output a prefix of such a text are allowed (the mask is applied before the sampling stages, which still choose
    /// among them), and generation ends with <see cref="FinishReason.Stop"/> as soon as the value is complete.
    /// Supported: <c>type</c> (a name or a list), <c>properties</c>, <c>required</c>, <c>additionalProperties</c>,
    /// <c>items</c>, <c>minItems</c>, <c>maxItems</c>, <c>enum</c>, <c>const</c>, <c>minLength</c>, <c>maxLength</c>,
    /// <c>format</c> (<c>date</c>, <c>date-time</c>, <c>uuid</c>), <c>minimum</c>, <c>maximum</c>, <c>exclusiveMinimum</c>,
    /// <c>exclusiveMaximum</c>, <c>anyOf</c>, <c>$ref</c>/<c>$defs</c>; annotations (<c>title</c>, <c>description</c>, ...)
    /// are ignored, any other keyword is an <see cref="ArgumentException"/> naming it. Properties come in declared order
    /// (as in OpenAI's strict mode), and whitespace between tokens is bounded. Null: unconstrained (see <see cref="AnyJson"/>).
    /// </summary>
    public string? JsonSchema { get; set; }

    /// <summary>
    /// When true (and <see cref="JsonSchema"/> is null), constrains the output to any JSON value, ending with
    /// <see cref="FinishReason.Stop"/> once it is complete. For an object, set <see cref="JsonSchema"/> to <c>{"type":"object"}</c>.
    /// </summary>
    public bool? AnyJson { get; set; }

    /// <summary>
    /// Prompt-lookup speculative decoding (transformers' <c>prompt_lookup_num_tokens</c>): at each step, up to this many
    /// tokens that followed the most recent earlier occurrence of the sequence's last 3 tokens (else 2, else 1) in the
    /// prompt and output so far are drafted and verified in one model run; the kept prefix saves a run per token.
    /// Greedy output is identical to plain decoding, and sampling keeps its distribution (speculative-sampling rule).
    /// The number adapts (from this bound: grows after a fully kept draft, shrinks after a rejection) between 1 and it. Applies
    /// while the request runs alone in the model's batch (see README). 0 or null: off. Must be in [0, 64].
    /// </summary>
    public int? PromptLookupTokens { get; set; }

    /// <summary>
    /// With a draft model (<see cref="Generation.GptOptions.DraftModelPath"/>): the most tokens it drafts per step
    /// (adaptive, starting at 4 or this bound). Null: 8; 0 turns the draft model off for the request. Must be in [0, 64].
    /// <see cref="PromptLookupTokens"/>, when set, is used instead.
    /// </summary>
    public int? DraftTokens { get; set; }

    /// <summary>
    /// For the chat client: constrains the output to literal text + a JSON value + literal text (a tool call such as
    /// <c>&lt;tool_call&gt;\n{...}\n&lt;/tool_call&gt;</c>). Leading and trailing added tokens of the texts (such markers) are
    /// forced as their single token ids (<see cref="FramedTokenConstraint"/>). Takes precedence over <see cref="JsonSchema"/> and <see cref="AnyJson"/>.
    /// </summary>
    internal JsonOutputFrame? FramedJson { get; set; }

    /// <summary>Returns a copy of these options with every null setting taken from <paramref name="fallback"/>.</summary>
    /// <param name="fallback">The defaults to fill in.</param>
    public GenerationOptions WithDefaults(GenerationOptions? fallback)
    {
        if (fallback is null)
        {
            return this;
        }

        return new GenerationOptions
        {
            MaxNewTokens = MaxNewTokens ?? fallback.MaxNewTokens,
            DoSample = DoSample ?? fallback.DoSample,
            Temperature = Temperature ?? fallback.Temperature,
            TopK = TopK ?? fallback.TopK,
            TopP = TopP ?? fallback.TopP,
            MinP = MinP ?? fallback.MinP,
            RepetitionPenalty = RepetitionPenalty ?? fallback.RepetitionPenalty,
            TypicalP = TypicalP ?? fallback.TypicalP,
            FrequencyPenalty = FrequencyPenalty ?? fallback.FrequencyPenalty,
            PresencePenalty = PresencePenalty ?? fallback.PresencePenalty,
            NoRepeatNGramSize = NoRepeatNGramSize ?? fallback.NoRepeatNGramSize,
            LogitBias = LogitBias ?? fallback.LogitBias,
            BannedTokenSequences = BannedTokenSequences ?? fallback.BannedTokenSequences,
            MinNewTokens = MinNewTokens ?? fallback.MinNewTokens,
            TopLogprobs = TopLogprobs ?? fallback.TopLogprobs,
            CustomStages = CustomStages ?? fallback.CustomStages,
            ConversationId = ConversationId ?? fallback.ConversationId,
            Seed = Seed ?? fallback.Seed,
            StopSequences = StopSequences ?? fallback.StopSequences,
            JsonSchema = JsonSchema ?? fallback.JsonSchema,
            AnyJson = AnyJson ?? fallback.AnyJson,
            PromptLookupTokens = PromptLookupTokens ?? fallback.PromptLookupTokens,
            DraftTokens = DraftTokens ?? fallback.DraftTokens,
            FramedJson = FramedJson ?? fallback.FramedJson,
        };
    }

    /// <summary>Checks every setting that is set, and throws for the first one out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range; the exception names it.</exception>
    /// <exception cref="ArgumentException">A stop sequence is null or empty, or a custom stage is null.</exception>
    public void Validate()
    {
        foreach (var (name, message) in GetErrors())
        {
            if (name is nameof(StopSequences) or nameof(CustomStages) or nameof(JsonSchema))
            {
                throw new ArgumentException(message, name);
            }

            throw new ArgumentOutOfRangeException(name, message);
        }
    }

    /// <summary>Lists each invalid setting with a message; empty when every setting is valid.</summary>
    internal IEnumerable<(string Setting, string Message)> GetErrors()
    {
        if (MaxNewTokens is < 1)
        {
            yield return (nameof(MaxNewTokens), $"MaxNewTokens must be at least 1, but was {MaxNewTokens}.");
        }

        if (Temperature is { } t && (float.IsNaN(t) || t < 0 || float.IsInfinity(t)))
        {
            yield return (nameof(Temperature), $"Temperature must be a finite number of 0 or more, but was {t}.");
        }

        if (TopK is < 0)
        {
            yield return (nameof(TopK), $"TopK must be 0 (off) or more, but was {TopK}.");
        }

        if (TopP is { } p && !(p > 0 && p <= 1))
        {
            yield return (nameof(TopP), $"TopP must be in (0, 1], but was {p}.");
        }

        if (MinP is { } m && !(m >= 0 && m <= 1))
        {
            yield return (nameof(MinP), $"MinP must be in [0, 1], but was {m}.");
        }

        if (RepetitionPenalty is { } r && !(r > 0 && !float.IsInfinity(r)))
        {
            yield return (nameof(RepetitionPenalty), $"RepetitionPenalty must be a finite number more than 0, but was {r}.");
        }

        if (TypicalP is { } typical && !(typical > 0 && typical <= 1))
        {
            yield return (nameof(TypicalP), $"TypicalP must be in (0, 1], but was {typical}.");
        }

        if (FrequencyPenalty is { } frequency && !(frequency >= -2 && frequency <= 2))
        {
            yield return (nameof(FrequencyPenalty), $"FrequencyPenalty must be in [-2, 2], but was {frequency}.");
        }

        if (PresencePenalty is { } presence && !(presence >= -2 && presence <= 2))
        {
            yield return (nameof(PresencePenalty), $"PresencePenalty must be in [-2, 2], but was {presence}.");
        }

        if (NoRepeatNGramSize is < 0)
        {
            yield return (nameof(NoRepeatNGramSize), $"NoRepeatNGramSize must be 0 (off) or more, but was {NoRepeatNGramSize}.");
        }

        if (LogitBias is not null)
        {
            foreach (var (id, bias) in LogitBias)
            {
                if (id < 0)
                {
                    yield return (nameof(LogitBias), $"LogitBias token ids must be 0 or more, but {id} is not.");
                }
                else if (float.IsNaN(bias) || float.IsPositiveInfinity(bias))
                {
                    yield return (nameof(LogitBias), $"LogitBias for token {id} must be a finite number or negative infinity, but was {bias}.");
                }
            }
        }

        if (BannedTokenSequences is not null)
        {
            foreach (var sequence in BannedTokenSequences)
            {
                if (sequence is null || sequence.Count == 0)
                {
                    yield return (nameof(BannedTokenSequences), "BannedTokenSequences must not contain null or empty sequences.");
                    break;
                }

                if (sequence.Any(id => id < 0))
                {
                    yield return (nameof(BannedTokenSequences), $"BannedTokenSequences token ids must be 0 or more, but [{string.Join(", ", sequence)}] holds a negative one.");
                    break;
                }
            }
        }

        if (MinNewTokens is < 0)
        {
            yield return (nameof(MinNewTokens), $"MinNewTokens must be 0 (off) or more, but was {MinNewTokens}.");
        }

        if (TopLogprobs is < 0 or > MaxTopLogprobs)
        {
            yield return (nameof(TopLogprobs), $"TopLogprobs must be in [0, {MaxTopLogprobs}], but was {TopLogprobs}.");
        }

        if (StopSequences is not null && StopSequences.Any(string.IsNullOrEmpty))
        {
            yield return (nameof(StopSequences), "StopSequences must not contain null or empty strings.");
        }

        if (CustomStages is not null && CustomStages.Any(s => s is null))
        {
            yield return (nameof(CustomStages), "CustomStages must not contain null stages.");
        }

        if (PromptLookupTokens is < 0 or > MaxSpeculativeTokens)
        {
            yield return (nameof(PromptLookupTokens), $"PromptLookupTokens must be in [0, {MaxSpeculativeTokens}] (0: off), but was {PromptLookupTokens}.");
        }

        if (DraftTokens is < 0 or > MaxSpeculativeTokens)
        {
            yield return (nameof(DraftTokens), $"DraftTokens must be in [0, {MaxSpeculativeTokens}] (0: no draft model), but was {DraftTokens}.");
        }

        if (JsonOutput() is { } json && JsonError(json) is { } error)
        {
            yield return (nameof(JsonSchema), error);
        }
    }

    /// <summary>The JSON output these options ask for (framed, by schema, or any value), or null.</summary>
    internal JsonOutputFrame? JsonOutput() =>
        FramedJson ?? (JsonSchema is { } schema ? new JsonOutputFrame(string.Empty, schema, string.Empty) : AnyJson == true ? new JsonOutputFrame(string.Empty, null, string.Empty) : null);

    private static string? JsonError(JsonOutputFrame json)
    {
        try
        {
            JsonSchemaConstraint.Get(json, nameof(JsonSchema));
            return null;
        }
        catch (ArgumentException ex)
        {
            return ex.ParamName is { } name ? ex.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : ex.Message;
        }
    }
}
