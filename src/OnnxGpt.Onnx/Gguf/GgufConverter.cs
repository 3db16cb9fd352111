using System.Globalization;
using System.Text.Json;
using OnnxGpt.Onnx.Protos;
using OnnxGpt.Onnx.Quantization;

namespace OnnxGpt.Onnx.Gguf;

/// <summary>
/// Writes a GPT-2 ONNX model's float32 weights as a llama.cpp GGUF file (architecture <c>gpt2</c>), as llama.cpp's
/// <c>convert_hf_to_gguf.py</c> (<c>GPT2Model</c>) names and lays them out: Hugging Face's Conv1D weights
/// (<c>h.N.attn.c_attn.weight</c> and the other MatMul weights, [in, out] row-major as ONNX's MatMul takes them) are
/// transposed to [out, in] row-major, which is ggml's ne = [in, out]; embeddings stay [vocab, embd] (ne = [embd, vocab]).
/// With <see cref="GgmlType.Q8_0"/> or <see cref="GgmlType.Q4_0"/>, every 2-D weight but the position embedding is
/// quantized with llama.cpp's reference quantizer; norms, biases and the position embedding stay F32. A tied lm_head
/// (a MatMul over <c>Transpose(wte)</c>) writes no <c>output.weight</c>: llama.cpp then uses <c>token_embd.weight</c>.
/// </summary>
public static class GgufConverter
{
    /// <summary>Converts the float32 graph of <paramref name="modelDirectory"/> into <paramref name="outputPath"/>.</summary>
    /// <param name="modelDirectory">A folder with <c>model.onnx</c> (weights named as transformers' GPT2LMHeadModel exports them), <c>genai_config.json</c> or <c>config.json</c>, and <c>vocab.json</c> + <c>merges.txt</c> or <c>tokenizer.json</c>.</param>
    /// <param name="outputPath">The GGUF file to write (replaced; written to a temporary name first).</param>
    /// <param name="type">The type of the 2-D weights.</param>
    /// <param name="cancellationToken">Stops between tensors.</param>
    /// <returns>The bytes written.</returns>
    /// <exception cref="QuantizationException">The model is not a GPT-2 graph this converter knows, or a file it needs is missing; the message says which.</exception>
    public static long Convert(string modelDirectory, string outputPath, GgmlType type, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(modelDirectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        var writer = Build(modelDirectory, type);
        var temporary = outputPath + ".tmp";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outputPath))!);
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                writer.Write(stream, cancellationToken);
            }

            File.Move(temporary, outputPath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }

        return new FileInfo(outputPath).Length;
    }

    /// <summary>The writer for <paramref name="modelDirectory"/>'s GGUF, with every key and tensor added (the weights are read when it writes).</summary>
    /// <param name="modelDirectory">As for <see cref="Convert"/>.</param>
    /// <param name="type">The type of the 2-D weights.</param>
    /// <returns>The writer.</returns>
    /// <exception cref="QuantizationException">As for <see cref="Convert"/>.</exception>
    public static GgufWriter Build(string modelDirectory, GgmlType type)
    {
        var (folder, graphPath) = ModelQuantizer.FindGraph(modelDirectory);
        var graphFolder = Path.GetDirectoryName(graphPath)!;
        var graph = ModelQuantizer.ReadModel(graphPath).Graph ?? throw new QuantizationException($"'{graphPath}' holds no graph.");
        var initializers = graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        TensorProto Get(string name) => initializers.TryGetValue(name, out var t)
            ? t
            : throw new QuantizationException($"'{graphPath}' has no initializer '{name}'; the GGUF writer knows GPT-2 graphs with transformers' GPT2LMHeadModel weight names (wte.weight, h.N.attn.c_attn.weight, ...).");

        var wte = Get("wte.weight");
        var wpe = Get("wpe.weight");
        if (wte.Dims.Count != 2 || wpe.Dims.Count != 2 || wte.Dims[1] != wpe.Dims[1])
        {
            throw new QuantizationException($"'{graphPath}': wte.weight [{string.Join(", ", wte.Dims)}] and wpe.weight [{string.Join(", ", wpe.Dims)}] are not [vocab, embd] and [context, embd].");
        }

        var vocabulary = wte.Dims[0];
        var embedding = wte.Dims[1];
        var context = wpe.Dims[0];
        var layers = 0;
        while (initializers.ContainsKey($"h.{layers}.ln_1.weight"))
        {
            layers++;
        }

        if (layers == 0)
        {
            throw new QuantizationException($"'{graphPath}' has no h.0.ln_1.weight: not a GPT-2 graph with transformers' weight names.");
        }

        var feedForward = Get("h.0.mlp.c_fc.weight").Dims[1];
        var config = ReadConfig(folder);
        var heads = config.Heads ?? throw new QuantizationException($"'{folder}' has neither genai_config.json (model.decoder.num_attention_heads) nor config.json (n_head): the head count is needed.");
        var epsilon = graph.Node.Where(n => n.OpType == "LayerNormalization").SelectMany(n => n.Attribute).FirstOrDefault(a => a.Name == "epsilon")?.F ?? 1e-5f;

        var writer = new GgufWriter();
        writer.AddString("general.architecture", "gpt2");
        writer.AddString("general.name", Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder))));
        writer.AddUInt32("general.file_type", type switch { GgmlType.F32 => 0u, GgmlType.Q4_0 => 2u, GgmlType.Q8_0 => 7u, _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Type must be F32, Q8_0 or Q4_0.") });
        writer.AddUInt32("gpt2.block_count", (uint)layers);
        writer.AddUInt32("gpt2.context_length", (uint)context);
        writer.AddUInt32("gpt2.embedding_length", (uint)embedding);
        writer.AddUInt32("gpt2.feed_forward_length", (uint)feedForward);
        writer.AddUInt32("gpt2.attention.head_count", (uint)heads);
        writer.AddFloat32("gpt2.attention.layer_norm_epsilon", epsilon);
        AddTokenizer(writer, folder, (int)vocabulary, config);

        void Add(string ggufName, string onnxName, bool transpose, GgmlType tensorType)
        {
            var tensor = Get(onnxName);
            var dims = tensor.Dims.ToArray();
            if (dims.Length == 1)
            {
                writer.AddTensor(ggufName, [dims[0]], GgmlType.F32, () => Encode(ModelQuantizer.ReadFloats(tensor, graphFolder), GgmlType.F32));
                return;
            }

            // ONNX [rows, cols] row-major; transposed [cols, rows]. ggml lists the contiguous dimension first.
            var (rows, cols) = transpose ? (dims[1], dims[0]) : (dims[0], dims[1]);
            var chosen = cols % GgmlQuantizer.BlockSize == 0 ? tensorType : GgmlType.F32;
            writer.AddTensor(ggufName, [cols, rows], chosen, () =>
            {
                var values = ModelQuantizer.ReadFloats(tensor, graphFolder);
                return Encode(transpose ? Transpose(values, (int)dims[0], (int)dims[1]) : values, chosen);
            });
        }

        Add("token_embd.weight", "wte.weight", false, type);
        Add("position_embd.weight", "wpe.weight", false, GgmlType.F32);
        for (var i = 0; i < layers; i++)
        {
            var h = $"h.{i}.";
            var blk = $"blk.{i}.";
            Add(blk + "attn_norm.weight", h + "ln_1.weight", false, GgmlType.F32);
            Add(blk + "attn_norm.bias", h + "ln_1.bias", false, GgmlType.F32);
            Add(blk + "attn_qkv.weight", h + "attn.c_attn.weight", true, type);
            Add(blk + "attn_qkv.bias", h + "attn.c_attn.bias", false, GgmlType.F32);
            Add(blk + "attn_output.weight", h + "attn.c_proj.weight", true, type);
            Add(blk + "attn_output.bias", h + "attn.c_proj.bias", false, GgmlType.F32);
            Add(blk + "ffn_norm.weight", h + "ln_2.weight", false, GgmlType.F32);
            Add(blk + "ffn_norm.bias", h + "ln_2.bias", false, GgmlType.F32);
            Add(blk + "ffn_up.weight", h + "mlp.c_fc.weight", true, type);
            Add(blk + "ffn_up.bias", h + "mlp.c_fc.bias", false, GgmlType.F32);
            Add(blk + "ffn_down.weight", h + "mlp.c_proj.weight", true, type);
            Add(blk + "ffn_down.bias", h + "mlp.c_proj.bias", false, GgmlType.F32);
        }

        Add("output_norm.weight", "ln_f.weight", false, GgmlType.F32);
        Add("output_norm.bias", "ln_f.bias", false, GgmlType.F32);
        if (initializers.TryGetValue("lm_head.weight", out var head))
        {
            // Untied: transformers' Linear weight is [vocab, embd]; an ONNX MatMul weight is [embd, vocab].
            Add("output.weight", "lm_head.weight", head.Dims.Count == 2 && head.Dims[0] == embedding && head.Dims[1] == vocabulary, type);
        }

        return writer;
    }

    private static byte[] Encode(float[] values, GgmlType type)
    {
        var rowLength = type == GgmlType.F32 ? values.Length : GgmlQuantizer.BlockSize;
        var bytes = new byte[GgmlQuantizer.RowBytes(type, rowLength) * (values.Length / rowLength)];
        GgmlQuantizer.Encode(type, values, bytes);
        return bytes;
    }

    private static float[] Transpose(float[] values, int rows, int cols)
    {
        var result = new float[values.Length];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < cols; c++)
            {
                result[((long)c * rows) + r] = values[((long)r * cols) + c];
            }
        }

        return result;
    }

    private sealed record Config(int? Heads, int? Bos, int? Eos);

    private static Config ReadConfig(string folder)
    {
        int? heads = null, bos = null, eos = null;
        static int? Int(JsonElement e, string name) =>
            e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i
            : e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0 && a[0].TryGetInt32(out var first) ? first
            : null;

        var genai = Path.Combine(folder, "genai_config.json");
        var hf = Path.Combine(folder, "config.json");
        try
        {
            if (File.Exists(hf))
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(hf));
                heads = Int(doc.RootElement, "n_head") ?? Int(doc.RootElement, "num_attention_heads");
                bos = Int(doc.RootElement, "bos_token_id");
                eos = Int(doc.RootElement, "eos_token_id");
            }

            if (File.Exists(genai))
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(genai));
                if (doc.RootElement.TryGetProperty("model", out var model))
                {
                    heads ??= model.TryGetProperty("decoder", out var decoder) ? Int(decoder, "num_attention_heads") : null;
                    bos ??= Int(model, "bos_token_id");
                    eos ??= Int(model, "eos_token_id");
                }
            }
        }
        catch (JsonException ex)
        {
            throw new QuantizationException($"A configuration file in '{folder}' is not valid JSON: {ex.Message}", ex);
        }

        return new Config(heads, bos, eos);
    }

    /// <summary>The GPT-2 byte-level BPE vocabulary and merges, as <c>tokenizer.ggml.model = "gpt2"</c> (pre-tokenizer <c>gpt-2</c>).</summary>
    private static void AddTokenizer(GgufWriter writer, string folder, int vocabulary, Config config)
    {
        var tokens = new string?[vocabulary];
        var merges = new List<string>();
        var special = new HashSet<int>();
        var vocabPath = Path.Combine(folder, "vocab.json");
        var mergesPath = Path.Combine(folder, "merges.txt");
        var tokenizerPath = Path.Combine(folder, "tokenizer.json");
        try
        {
            if (File.Exists(vocabPath) && File.Exists(mergesPath))
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(vocabPath));
                ReadVocabulary(doc.RootElement, tokens);
                merges.AddRange(File.ReadLines(mergesPath).Where(l => l.Length > 0 && !l.StartsWith("#version", StringComparison.Ordinal)));
            }
            else if (File.Exists(tokenizerPath))
            {
                using var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerPath));
                var model = doc.RootElement.GetProperty("model");
                ReadVocabulary(model.GetProperty("vocab"), tokens);
                foreach (var merge in model.GetProperty("merges").EnumerateArray())
                {
                    merges.Add(merge.ValueKind == JsonValueKind.Array ? $"{merge[0].GetString()} {merge[1].GetString()}" : merge.GetString()!);
                }

                if (doc.RootElement.TryGetProperty("added_tokens", out var added))
                {
                    foreach (var token in added.EnumerateArray())
                    {
                        var id = token.GetProperty("id").GetInt32();
                        if ((uint)id < (uint)vocabulary)
                        {
                            tokens[id] = token.GetProperty("content").GetString();
                            if (token.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True)
                            {
                                special.Add(id);
                            }
                        }
                    }
                }
            }
            else
            {
                throw new QuantizationException($"'{folder}' has neither vocab.json + merges.txt nor tokenizer.json: a GGUF needs the GPT-2 tokenizer.");
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new QuantizationException($"The tokenizer files in '{folder}' are not a GPT-2 BPE vocabulary ({ex.Message}).", ex);
        }

        var types = new int[vocabulary];
        for (var i = 0; i < vocabulary; i++)
        {
            if (tokens[i] is null)
            {
                tokens[i] = "[PAD" + i.ToString(CultureInfo.InvariantCulture) + "]";
                types[i] = 4; // LLAMA_TOKEN_TYPE_USER_DEFINED, as convert_hf_to_gguf pads missing ids.
            }
            else
            {
                // LLAMA_TOKEN_TYPE_CONTROL for special tokens (<|endoftext|>), NORMAL otherwise.
                types[i] = special.Contains(i) || (tokens[i]!.StartsWith("<|", StringComparison.Ordinal) && tokens[i]!.EndsWith("|>", StringComparison.Ordinal)) ? 3 : 1;
            }
        }

        writer.AddString("tokenizer.ggml.model", "gpt2");
        writer.AddString("tokenizer.ggml.pre", "gpt-2");
        writer.AddStringArray("tokenizer.ggml.tokens", tokens!);
        writer.AddInt32Array("tokenizer.ggml.token_type", types);
        writer.AddStringArray("tokenizer.ggml.merges", merges);
        if (config.Bos is { } bos)
        {
            writer.AddUInt32("tokenizer.ggml.bos_token_id", (uint)bos);
        }

        if (config.Eos is { } eos)
        {
            writer.AddUInt32("tokenizer.ggml.eos_token_id", (uint)eos);
        }
    }

    private static void ReadVocabulary(JsonElement vocab, string?[] tokens)
    {
        foreach (var entry in vocab.EnumerateObject())
        {
            var id = entry.Value.GetInt32();
            if ((uint)id < (uint)tokens.Length)
            {
                tokens[id] = entry.Name;
            }
        }
    }
}
