using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> into a <see cref="TokenizerJsonPipeline"/>. Every component is mapped or
/// refused: a component OnnxGpt does not support fails with a <see cref="ModelLoadException"/> that names its JSON path
/// and type, so a tokenizer never tokenizes differently in silence.
/// </summary>
internal static class TokenizerJsonLoader
{
    /// <summary>The file name.</summary>
    public const string FileName = "tokenizer.json";

    /// <summary>Loads <paramref name="path"/>; <paramref name="modelPath"/> names the model in errors.</summary>
    /// <exception cref="ModelLoadException">The file cannot be read, is not valid, or uses an unsupported component.</exception>
    public static TokenizerJsonPipeline Load(string path, string modelPath)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(modelPath, $"{FileName} cannot be read: {ex.Message}", ex);
        }

        return Parse(bytes, modelPath);
    }

    /// <summary>Parses the bytes of a tokenizer.json.</summary>
    /// <exception cref="ModelLoadException">The JSON is not valid or uses an unsupported component.</exception>
    public static TokenizerJsonPipeline Parse(ReadOnlyMemory<byte> json, string modelPath)
    {
        LargeParts parts;
        JsonDocument document;
        try
        {
            // model.vocab and model.merges are read from the bytes; the rest of the file as a document.
            parts = LargeParts.Find(json);
            document = JsonDocument.Parse(parts.Rest, new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 256 });
        }
        catch (JsonException ex)
        {
            throw new ModelLoadException(modelPath, $"{FileName} is not valid JSON ({ex.Message}). Download the file again.", ex);
        }
        catch (TokenizerJsonFormatException ex)
        {
            throw new ModelLoadException(modelPath, $"{FileName}: {ex.Message}", ex);
        }

        using (document)
        {
            try
            {
                return Build(document.RootElement, parts);
            }
            catch (TokenizerJsonFormatException ex)
            {
                throw new ModelLoadException(modelPath, $"{FileName}: {ex.Message}", ex);
            }
            catch (Exception ex) when (ex is InvalidOperationException or ArgumentException or FormatException or KeyNotFoundException or IndexOutOfRangeException or OverflowException)
            {
                // A value of the wrong JSON kind where the format expects another.
                throw new ModelLoadException(modelPath, $"{FileName} does not have the structure of a Hugging Face tokenizer file ({ex.Message}). Download the file again.", ex);
            }
        }
    }

    private static TokenizerJsonPipeline Build(JsonElement root, LargeParts parts)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerJsonFormatException("the file is not a JSON object");
        }

        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerJsonFormatException("'model' is missing or not an object");
        }

        var modelType = OptionalString(model, "type", "model");
        if (modelType is not null && modelType != "BPE")
        {
            throw Unsupported("model", modelType, "only BPE models are supported (WordPiece, WordLevel and Unigram are not)");
        }

        if (modelType is null && !model.TryGetProperty("merges", out _))
        {
            throw new TokenizerJsonFormatException("model has no 'type' and no 'merges'; only BPE models are supported");
        }

        if (parts.Vocab is null)
        {
            throw new TokenizerJsonFormatException("model.vocab is missing or not an object of token -> id");
        }

        if (parts.Merges is null && model.TryGetProperty("merges", out var merges) && merges.ValueKind != JsonValueKind.Null)
        {
            throw new TokenizerJsonFormatException("model.merges is not an array");
        }

        // Added tokens are needed by the post-processor.
        var (vocabulary, vocabularyTokens) = parts.ReadVocabulary();
        var addedTokens = ReadAddedTokens(root, vocabulary, vocabularyTokens);
        var maxId = vocabularyTokens.Length - 1;
        foreach (var token in addedTokens)
        {
            maxId = Math.Max(maxId, token.Id);
        }

        if (maxId >= 16_777_216)
        {
            throw new TokenizerJsonFormatException($"the largest token id, {maxId}, is implausibly large (more than 2^24 ids)");
        }

        var tokens = vocabularyTokens;
        System.Array.Resize(ref tokens, maxId + 1);
        foreach (var token in addedTokens)
        {
            tokens[token.Id] = token.Content;
        }

        int? ResolveToken(string content, string path)
        {
            foreach (var added in addedTokens)
            {
                if (added.Content == content)
                {
                    return added.Id;
                }
            }

            return vocabulary.TryGetValue(content, out var id) ? id : throw new TokenizerJsonFormatException($"{path}: the token '{content}' is neither in model.vocab nor in added_tokens");
        }

        var normalizer = root.TryGetProperty("normalizer", out var norm) ? Normalizer(norm, "normalizer") : null;
        var preTokenizer = root.TryGetProperty("pre_tokenizer", out var pre) ? PreTokenizer(pre, "pre_tokenizer") : null;
        var byteLevel = CheckByteLevelPlacement(preTokenizer);
        var postProcessor = root.TryGetProperty("post_processor", out var post) ? PostProcessor(post, "post_processor", ResolveToken, tokens.Length) : null;
        var decoder = root.TryGetProperty("decoder", out var dec) ? Decoder(dec, "decoder") : null;

        var bpe = BuildModel(model, parts, vocabulary, vocabularyTokens, byteLevel, out var description);
        return new TokenizerJsonPipeline(bpe, tokens, addedTokens, normalizer, preTokenizer, postProcessor, decoder, description);
    }

    private static List<AddedToken> ReadAddedTokens(JsonElement root, Dictionary<string, int> vocabulary, string?[] vocabularyTokens)
    {
        var result = new List<AddedToken>();
        if (!root.TryGetProperty("added_tokens", out var added) || added.ValueKind == JsonValueKind.Null)
        {
            return result;
        }

        if (added.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerJsonFormatException("added_tokens is not an array");
        }

        var byId = new Dictionary<int, string>();
        var byContent = new Dictionary<string, int>(StringComparer.Ordinal);
        var index = 0;
        foreach (var item in added.EnumerateArray())
        {
            var path = $"added_tokens[{index++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw new TokenizerJsonFormatException($"{path} is not an object");
            }

            var id = RequiredInt(item, "id", path);
            if (id < 0)
            {
                throw new TokenizerJsonFormatException($"{path}.id is {id}, not a non-negative id");
            }

            var content = OptionalString(item, "content", path) ?? throw new TokenizerJsonFormatException($"{path}.content is missing");
            if (content.Length == 0)
            {
                throw new TokenizerJsonFormatException($"{path}.content is empty");
            }

            var existing = byId.TryGetValue(id, out var earlier) ? earlier : id < vocabularyTokens.Length ? vocabularyTokens[id] : null;
            if (existing is not null && existing != content)
            {
                throw new TokenizerJsonFormatException($"{path} gives the id {id} to '{content}', but that id is '{existing}' in model.vocab or an earlier added token");
            }

            if ((vocabulary.TryGetValue(content, out var vocabId) && vocabId != id) || (byContent.TryGetValue(content, out var addedId) && addedId != id))
            {
                throw new TokenizerJsonFormatException($"{path} gives '{content}' the id {id}, but it already has the id {(vocabulary.TryGetValue(content, out var v) ? v : byContent[content])}");
            }

            byId[id] = content;
            byContent[content] = id;
            result.Add(new AddedToken(
                id,
                content,
                OptionalBool(item, "special", path) ?? false,
                OptionalBool(item, "single_word", path) ?? false,
                OptionalBool(item, "lstrip", path) ?? false,
                OptionalBool(item, "rstrip", path) ?? false,
                OptionalBool(item, "normalized", path) ?? !(OptionalBool(item, "special", path) ?? false)));
        }

        return result;
    }

    private static BpeModel BuildModel(JsonElement model, LargeParts parts, Dictionary<string, int> vocabulary, string?[] vocabularyTokens, bool byteLevel, out string description)
    {
        if (model.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
        {
            throw UnsupportedValue("model.dropout", dropout.GetRawText(), "BPE dropout makes tokenization random; set it to null");
        }

        var unk = OptionalString(model, "unk_token", "model");
        if (unk is not null && !vocabulary.ContainsKey(unk))
        {
            throw new TokenizerJsonFormatException($"model.unk_token '{unk}' is not in model.vocab");
        }

        var prefix = OptionalString(model, "continuing_subword_prefix", "model");
        var suffix = OptionalString(model, "end_of_word_suffix", "model");
        var fuseUnk = OptionalBool(model, "fuse_unk", "model") ?? false;
        var byteFallback = OptionalBool(model, "byte_fallback", "model") ?? false;
        var ignoreMerges = OptionalBool(model, "ignore_merges", "model") ?? false;
        BpeTokenizer CreateLibraryBpe(IEnumerable<string> merges) => BpeTokenizer.Create(new BpeOptions(vocabulary)
        {
            Merges = merges,
            ByteLevel = byteLevel,
            UnknownToken = unk,
            FuseUnknownTokens = fuseUnk && !byteFallback,
            ContinuingSubwordPrefix = string.IsNullOrEmpty(prefix) ? null : prefix,
            EndOfWordSuffix = string.IsNullOrEmpty(suffix) ? null : suffix,
        });

        BpeModel result;
        int mergeCount;
        if (byteLevel)
        {
            var merges = new List<string>();
            mergeCount = parts.ReadMerges((left, right, _) => merges.Add(string.Concat(left, " ", right)), allowSpaces: false);
            BpeTokenizer bpe;
            try
            {
                bpe = CreateLibraryBpe(merges);
            }
            catch (InvalidOperationException ex)
            {
                throw new TokenizerJsonFormatException($"model.merges do not fit model.vocab: {ex.Message}");
            }

            result = new BpeModel(bpe, vocabulary, byteLevel, ignoreMerges, byteFallback, unk, fuseUnk);
        }
        else
        {
            // SentencePiece-style: OnnxGpt's merge (see SentencePieceBpe for why); the library's BPE only if asked for.
            var pairs = new List<(int Left, int Right)>();
            var charsBeforeMarker = new HashSet<char>();
            var table = ReadMergeTable(parts, vocabulary, prefix, pairs, charsBeforeMarker);
            mergeCount = pairs.Count;
            var merge = new SentencePieceBpe(vocabulary, table, ignoreMerges, byteFallback, unk, fuseUnk, prefix, suffix, charsBeforeMarker);
            IEnumerable<string> LibraryMerges() => pairs
                .Select(p => (Left: vocabularyTokens[p.Left]!, Right: vocabularyTokens[p.Right]!))
                .Where(p => !p.Left.Contains(' ', StringComparison.Ordinal) && !p.Right.Contains(' ', StringComparison.Ordinal))
                .Select(p => string.Concat(p.Left, " ", p.Right));
            result = new BpeModel(merge, () => CreateLibraryBpe(LibraryMerges()), vocabulary, ignoreMerges, byteFallback, unk, fuseUnk);
        }

        var traits = new List<string>();
        if (byteLevel)
        {
            traits.Add("byte-level");
        }

        if (byteFallback)
        {
            traits.Add("byte_fallback");
        }

        if (ignoreMerges)
        {
            traits.Add("ignore_merges");
        }

        if (unk is not null)
        {
            traits.Add($"unk '{unk}'{(fuseUnk ? " fused" : string.Empty)}");
        }

        if (!string.IsNullOrEmpty(prefix))
        {
            traits.Add($"prefix '{prefix}'");
        }

        if (!string.IsNullOrEmpty(suffix))
        {
            traits.Add($"suffix '{suffix}'");
        }

        description = $"BPE ({vocabulary.Count} tokens, {mergeCount} merges{(traits.Count > 0 ? ", " + string.Join(", ", traits) : string.Empty)})";
        return result;
    }

    /// <summary>
    /// model.merges as (left id, right id) -> (rank, merged id), as the Rust library builds its merge map: the rank is the
    /// index in the file (a pair given twice keeps its last rank), the merged token is left + right less
    /// <paramref name="prefix"/>, and every token must be in the vocabulary. <paramref name="pairs"/> gets each merge's ids,
    /// <paramref name="charsBeforeMarker"/> the last character of each left token whose right token starts with '▁'.
    /// </summary>
    private static MergeTable ReadMergeTable(LargeParts parts, Dictionary<string, int> vocabulary, string? prefix, List<(int Left, int Right)> pairs, HashSet<char> charsBeforeMarker)
    {
        var table = new MergeTable(parts.Merges is { } range ? (range.End.Value - range.Start.Value) / 16 : 0);
        var lookup = vocabulary.GetAlternateLookup<ReadOnlySpan<char>>();
        var prefixLength = prefix?.Length ?? 0;
        var buffer = new char[256];
        parts.ReadMerges(
            (left, right, index) =>
            {
                if (!lookup.TryGetValue(left, out var leftId) || !lookup.TryGetValue(right, out var rightId))
                {
                    var missing = lookup.TryGetValue(left, out _) ? right.ToString() : left.ToString();
                    throw new TokenizerJsonFormatException($"model.merges do not fit model.vocab: model.merges[{index}] merges '{left.ToString()}' and '{right.ToString()}', but '{missing}' is not in model.vocab");
                }

                var skip = Math.Min(prefixLength, right.Length);
                var length = left.Length + right.Length - skip;
                if (length > buffer.Length)
                {
                    buffer = new char[length * 2];
                }

                left.CopyTo(buffer);
                right[skip..].CopyTo(buffer.AsSpan(left.Length));
                if (!lookup.TryGetValue(buffer.AsSpan(0, length), out var mergedId))
                {
                    throw new TokenizerJsonFormatException($"model.merges do not fit model.vocab: model.merges[{index}] merges '{left.ToString()}' and '{right.ToString()}', but '{new string(buffer, 0, length)}' is not in model.vocab");
                }

                table.Set(leftId, rightId, index, mergedId);
                pairs.Add((leftId, rightId));
                if (right.Length > 0 && right[0] == '\u2581' && left.Length > 0)
                {
                    charsBeforeMarker.Add(left[^1]);
                }
            },
            allowSpaces: true);
        return table;
    }

    private static JsonNormalizer? Normalizer(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var type = Type(e, path);
        return type switch
        {
            "NFC" => new UnicodeNormalizer(NormalizationForm.FormC, "NFC"),
            "NFD" => new UnicodeNormalizer(NormalizationForm.FormD, "NFD"),
            "NFKC" => new UnicodeNormalizer(NormalizationForm.FormKC, "NFKC"),
            "NFKD" => new UnicodeNormalizer(NormalizationForm.FormKD, "NFKD"),
            "Lowercase" => new LowercaseJsonNormalizer(),
            "Replace" => new ReplaceNormalizer(Pattern(e, path), OptionalString(e, "content", path) ?? throw Missing(path, "content")),
            "Prepend" => new PrependNormalizer(OptionalString(e, "prepend", path) ?? throw Missing(path, "prepend")),
            "Strip" => new StripNormalizer(OptionalBool(e, "strip_left", path) ?? false, OptionalBool(e, "strip_right", path) ?? false),
            "Sequence" => new SequenceNormalizer(Array(e, "normalizers", path).Select((item, i) => Normalizer(item, $"{path}.normalizers[{i}]")).OfType<JsonNormalizer>().ToList()),
            _ => throw Unsupported(path, type, "supported: NFC, NFD, NFKC, NFKD, Lowercase, Replace, Prepend, Strip, Sequence"),
        };
    }

    private static JsonPreTokenizer? PreTokenizer(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var type = Type(e, path);
        return type switch
        {
            "Split" => new SplitPreTokenizer(Pattern(e, path), Behavior(e, path, SplitBehavior.Isolated), OptionalBool(e, "invert", path) ?? false),
            "ByteLevel" => new ByteLevelPreTokenizer(OptionalBool(e, "add_prefix_space", path) ?? true, OptionalBool(e, "use_regex", path) ?? true),
            "Metaspace" => new MetaspacePreTokenizer(Replacement(e, path), Scheme(e, path), OptionalBool(e, "split", path) ?? true),
            "Digits" => new DigitsPreTokenizer(OptionalBool(e, "individual_digits", path) ?? false),
            "Punctuation" => new PunctuationPreTokenizer(Behavior(e, path, SplitBehavior.Isolated)),
            "Whitespace" => new WhitespacePreTokenizer(),
            "WhitespaceSplit" => new WhitespaceSplitPreTokenizer(),
            // A Sequence inside a Sequence runs its steps in the same order: flattened.
            "Sequence" => new SequencePreTokenizer(Array(e, "pretokenizers", path)
                .Select((item, i) => PreTokenizer(item, $"{path}.pretokenizers[{i}]"))
                .SelectMany(Flatten)
                .ToList()),
            _ => throw Unsupported(path, type, "supported: Split, ByteLevel, Metaspace, Digits, Punctuation, Whitespace, WhitespaceSplit, Sequence"),
        };
    }

    private static IEnumerable<JsonPreTokenizer> Flatten(JsonPreTokenizer? step) => step switch
    {
        SequencePreTokenizer inner => inner.Steps,
        null => [],
        _ => [step],
    };

    /// <summary>ByteLevel's byte mapping happens in the model, so it must come last; returns whether there is one.</summary>
    private static bool CheckByteLevelPlacement(JsonPreTokenizer? preTokenizer)
    {
        switch (preTokenizer)
        {
            case ByteLevelPreTokenizer:
                return true;
            case SequencePreTokenizer sequence:
                for (var i = 0; i < sequence.Steps.Count; i++)
                {
                    // Nested sequences are flattened, so i counts the steps of the flattened sequence.
                    if (sequence.Steps[i] is ByteLevelPreTokenizer && i != sequence.Steps.Count - 1)
                    {
                        throw Unsupported($"pre_tokenizer.pretokenizers[{i}]", "ByteLevel", "ByteLevel is supported only as the last pre-tokenizer");
                    }
                }

                return sequence.Steps.Count > 0 && sequence.Steps[^1] is ByteLevelPreTokenizer;
            default:
                return false;
        }
    }

    private static JsonPostProcessor? PostProcessor(JsonElement e, string path, Func<string, string, int?> resolve, int vocabularySize)
    {
        if (e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var type = Type(e, path);
        switch (type)
        {
            case "ByteLevel":
                return new OffsetsOnlyPostProcessor("ByteLevel (adds no tokens)");
            case "Sequence":
                return new SequencePostProcessor(Array(e, "processors", path).Select((item, i) => PostProcessor(item, $"{path}.processors[{i}]", resolve, vocabularySize)).OfType<JsonPostProcessor>().ToList());
            case "RobertaProcessing" or "BertProcessing":
                {
                    var cls = TokenPair(e, "cls", path, vocabularySize);
                    var sep = TokenPair(e, "sep", path, vocabularySize);
                    return new TemplatePostProcessor([cls.Id], [sep.Id], $"{type} ({cls.Token} A {sep.Token})");
                }

            case "TemplateProcessing":
                {
                    var specials = new Dictionary<string, int[]>(StringComparer.Ordinal);
                    if (e.TryGetProperty("special_tokens", out var map) && map.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var special in map.EnumerateObject())
                        {
                            var ids = Array(special.Value, "ids", $"{path}.special_tokens.{special.Name}")
                                .Select(id => id.ValueKind == JsonValueKind.Number && id.TryGetInt32(out var v) && v >= 0 && v < vocabularySize ? v
                                    : throw new TokenizerJsonFormatException($"{path}.special_tokens.{special.Name}.ids holds {id.GetRawText()}, which is not an id of this vocabulary"))
                                .ToArray();
                            specials[special.Name] = ids;
                        }
                    }

                    var before = new List<int>();
                    var after = new List<int>();
                    var names = new List<string>();
                    var seenSequence = false;
                    var index = 0;
                    foreach (var piece in Array(e, "single", path))
                    {
                        var piecePath = $"{path}.single[{index++}]";
                        if (piece.ValueKind == JsonValueKind.Object && piece.TryGetProperty("Sequence", out var sequence))
                        {
                            var id = sequence.ValueKind == JsonValueKind.Object ? OptionalString(sequence, "id", piecePath) : null;
                            if (id != "A")
                            {
                                throw new TokenizerJsonFormatException($"{piecePath}: a single-sequence template may only hold the sequence 'A'");
                            }

                            seenSequence = true;
                            names.Add("A");
                        }
                        else if (piece.ValueKind == JsonValueKind.Object && piece.TryGetProperty("SpecialToken", out var special))
                        {
                            var name = special.ValueKind == JsonValueKind.Object ? OptionalString(special, "id", piecePath) : null;
                            if (name is null || !specials.TryGetValue(name, out var ids))
                            {
                                var resolved = name is null ? null : resolve(name, piecePath);
                                ids = resolved is int r ? [r] : throw new TokenizerJsonFormatException($"{piecePath}: the special token '{name}' is not in {path}.special_tokens");
                            }

                            (seenSequence ? after : before).AddRange(ids);
                            names.Add(name!);
                        }
                        else
                        {
                            throw new TokenizerJsonFormatException($"{piecePath} is neither {{\"Sequence\": ...}} nor {{\"SpecialToken\": ...}}");
                        }
                    }

                    return new TemplatePostProcessor(before, after, $"TemplateProcessing ({string.Join(' ', names)})");
                }

            default:
                throw Unsupported(path, type, "supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence");
        }
    }

    private static (string Token, int Id) TokenPair(JsonElement e, string name, string path, int vocabularySize)
    {
        if (!e.TryGetProperty(name, out var pair) || pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2
            || pair[0].ValueKind != JsonValueKind.String || !pair[1].TryGetInt32(out var id) || id < 0 || id >= vocabularySize)
        {
            throw new TokenizerJsonFormatException($"{path}.{name} is not [token, id] with an id of this vocabulary");
        }

        return (pair[0].GetString()!, id);
    }

    private static JsonDecoder? Decoder(JsonElement e, string path)
    {
        if (e.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var type = Type(e, path);
        return type switch
        {
            "ByteLevel" => new ByteLevelDecoder(),
            "Replace" => new ReplaceDecoder(Pattern(e, path), OptionalString(e, "content", path) ?? throw Missing(path, "content")),
            "ByteFallback" => new ByteFallbackDecoder(),
            "Fuse" => new FuseDecoder(),
            "Strip" => new StripDecoder(SingleChar(e, "content", path), OptionalInt(e, "start", path) ?? 0, OptionalInt(e, "stop", path) ?? 0),
            "Metaspace" => new MetaspaceDecoder(Replacement(e, path), Scheme(e, path)),
            "BPEDecoder" => new BpeSuffixDecoder(OptionalString(e, "suffix", path) ?? "</w>"),
            "Sequence" => new SequenceDecoder(Array(e, "decoders", path).Select((item, i) => Decoder(item, $"{path}.decoders[{i}]")).OfType<JsonDecoder>().ToList()),
            _ => throw Unsupported(path, type, "supported: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, BPEDecoder, Sequence"),
        };
    }

    private static TextPattern Pattern(JsonElement e, string path)
    {
        if (!e.TryGetProperty("pattern", out var pattern) || pattern.ValueKind != JsonValueKind.Object)
        {
            throw Missing(path, "pattern");
        }

        if (pattern.TryGetProperty("String", out var literal) && literal.ValueKind == JsonValueKind.String)
        {
            return TextPattern.FromString(literal.GetString()!);
        }

        if (pattern.TryGetProperty("Regex", out var regex) && regex.ValueKind == JsonValueKind.String)
        {
            try
            {
                return TextPattern.FromRegex(regex.GetString()!);
            }
            catch (Exception ex) when (ex is NotSupportedException or ArgumentException)
            {
                throw new TokenizerJsonFormatException($"{path}.pattern.Regex cannot be run with Oniguruma's meaning: {ex.Message}");
            }
        }

        throw new TokenizerJsonFormatException($"{path}.pattern is neither {{\"String\": ...}} nor {{\"Regex\": ...}}");
    }

    private static SplitBehavior Behavior(JsonElement e, string path, SplitBehavior fallback)
    {
        var behavior = OptionalString(e, "behavior", path);
        return behavior switch
        {
            null => fallback,
            "Removed" => SplitBehavior.Removed,
            "Isolated" => SplitBehavior.Isolated,
            "MergedWithPrevious" => SplitBehavior.MergedWithPrevious,
            "MergedWithNext" => SplitBehavior.MergedWithNext,
            "Contiguous" => SplitBehavior.Contiguous,
            _ => throw UnsupportedValue($"{path}.behavior", behavior, "supported: Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous"),
        };
    }

    private static char Replacement(JsonElement e, string path) => SingleChar(e, "replacement", path);

    private static PrependScheme Scheme(JsonElement e, string path)
    {
        var scheme = OptionalString(e, "prepend_scheme", path);
        return scheme switch
        {
            // Files written before prepend_scheme existed say add_prefix_space.
            null => OptionalBool(e, "add_prefix_space", path) ?? true ? PrependScheme.Always : PrependScheme.Never,
            "always" => PrependScheme.Always,
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            _ => throw UnsupportedValue($"{path}.prepend_scheme", scheme, "supported: always, first, never"),
        };
    }

    private static char SingleChar(JsonElement e, string name, string path)
    {
        var value = OptionalString(e, name, path) ?? throw Missing(path, name);
        return value.Length == 1 ? value[0] : throw new TokenizerJsonFormatException($"{path}.{name} is \"{value}\", not one character");
    }

    private static string Type(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new TokenizerJsonFormatException($"{path} is not an object");
        }

        return OptionalString(e, "type", path) ?? throw Missing(path, "type");
    }

    private static List<JsonElement> Array(JsonElement e, string name, string path)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new TokenizerJsonFormatException($"{path}.{name} is missing or not an array");
        }

        return array.EnumerateArray().ToList();
    }

    private static string? OptionalString(JsonElement e, string name, string path)
    {
        if (!e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new TokenizerJsonFormatException($"{path}.{name} is {value.GetRawText()}, not a string");
    }

    private static bool? OptionalBool(JsonElement e, string name, string path)
    {
        if (!e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new TokenizerJsonFormatException($"{path}.{name} is {value.GetRawText()}, not true or false"),
        };
    }

    private static int? OptionalInt(JsonElement e, string name, string path)
    {
        if (!e.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i) ? i : throw new TokenizerJsonFormatException($"{path}.{name} is {value.GetRawText()}, not an integer");
    }

    private static int RequiredInt(JsonElement e, string name, string path) => OptionalInt(e, name, path) ?? throw Missing(path, name);

    private static TokenizerJsonFormatException Missing(string path, string name) => new($"{path}.{name} is missing");

    private static TokenizerJsonFormatException Unsupported(string path, string type, string hint) =>
        new($"{path}.type = \"{type}\" is not supported by OnnxGpt ({hint})");

    private static TokenizerJsonFormatException UnsupportedValue(string path, string value, string hint) =>
        new($"{path} = \"{value}\" is not supported by OnnxGpt ({hint})");
}
