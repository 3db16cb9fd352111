using System.Text.Json;
using System.Text.Json.Serialization;

namespace OnnxGpt.Bench;

/// <summary>
/// <c>weights.manifest.json</c>: how to rebuild a benchmark graph's external data file. Each initializer has an
/// offset and length in the data file, a shape, an element type and a fill (<c>normal</c>, <c>ones</c>, <c>zeros</c>
/// or <c>values</c>).
/// </summary>
internal sealed class WeightsManifest
{
    public const string FileName = "weights.manifest.json";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string DataFile { get; set; } = "model.onnx.data";

    public long DataLength { get; set; }

    public List<ManifestTensor> Tensors { get; set; } = [];

    /// <summary>Bytes of all initializers: what one forward pass reads at most.</summary>
    public long TensorBytes => Tensors.Sum(t => t.Length);

    /// <summary>Reads and checks the manifest in <paramref name="modelDirectory"/>.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no manifest.</exception>
    /// <exception cref="InvalidDataException">The manifest is not valid JSON or describes an impossible layout.</exception>
    public static WeightsManifest Read(string modelDirectory)
    {
        if (!Directory.Exists(modelDirectory))
        {
            throw new DirectoryNotFoundException($"The model folder '{modelDirectory}' does not exist.");
        }

        var path = Path.Combine(modelDirectory, FileName);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"'{modelDirectory}' has no {FileName}: only benchmark graphs whose weights are generated have one (self-contained models need no weights written).", path);
        }

        WeightsManifest? manifest;
        try
        {
            using var stream = File.OpenRead(path);
            manifest = JsonSerializer.Deserialize<WeightsManifest>(stream, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path} is not a valid weights manifest: {ex.Message}", ex);
        }

        if (manifest is null)
        {
            throw new InvalidDataException($"{path} is empty (JSON null); expected an object with data_length and tensors.");
        }

        manifest.Validate(path);
        return manifest;
    }

    private void Validate(string path)
    {
        if (string.IsNullOrWhiteSpace(DataFile) || Path.GetFileName(DataFile) != DataFile)
        {
            throw new InvalidDataException($"{path}: data_file must be a plain file name, not '{DataFile}'.");
        }

        if (DataLength <= 0)
        {
            throw new InvalidDataException($"{path}: data_length must be positive, but was {DataLength}.");
        }

        if (Tensors.Count == 0)
        {
            throw new InvalidDataException($"{path}: tensors is missing or empty.");
        }

        foreach (var tensor in Tensors)
        {
            tensor.Validate(path, DataLength);
        }

        var ordered = Tensors.OrderBy(t => t.Offset).ToList();
        for (var i = 1; i < ordered.Count; i++)
        {
            if (ordered[i].Offset < ordered[i - 1].Offset + ordered[i - 1].Length)
            {
                throw new InvalidDataException($"{path}: tensors '{ordered[i - 1].Name}' and '{ordered[i].Name}' overlap.");
            }
        }

        Tensors = ordered;
    }
}

/// <summary>One initializer in a <see cref="WeightsManifest"/>.</summary>
internal sealed class ManifestTensor
{
    public string Name { get; set; } = string.Empty;

    public string Dtype { get; set; } = "float32";

    public long[] Shape { get; set; } = [];

    public long Offset { get; set; }

    public long Length { get; set; }

    public string Fill { get; set; } = string.Empty;

    public double? Std { get; set; }

    public double[]? Values { get; set; }

    public int ElementSize => Dtype switch
    {
        "float32" or "int32" => 4,
        "float16" => 2,
        "int64" => 8,
        _ => 0,
    };

    public void Validate(string path, long dataLength)
    {
        var what = $"{path}: tensor '{Name}'";
        if (string.IsNullOrEmpty(Name))
        {
            throw new InvalidDataException($"{path}: a tensor has no name.");
        }

        if (ElementSize == 0)
        {
            throw new InvalidDataException($"{what} has dtype '{Dtype}'; supported: float32, float16, int32, int64.");
        }

        if (Offset < 0 || Length < 0 || Offset + Length > dataLength)
        {
            throw new InvalidDataException($"{what} lies outside the data file (offset {Offset}, length {Length}, data_length {dataLength}).");
        }

        long elements = 1;
        foreach (var d in Shape)
        {
            if (d < 0)
            {
                throw new InvalidDataException($"{what} has a negative dimension in shape [{string.Join(", ", Shape)}].");
            }

            elements = checked(elements * d);
        }

        if (elements * ElementSize != Length)
        {
            throw new InvalidDataException($"{what}: shape [{string.Join(", ", Shape)}] of {Dtype} needs {elements * ElementSize} bytes, but length is {Length}.");
        }

        switch (Fill)
        {
            case "ones":
            case "zeros":
                break;
            case "normal":
                if (Dtype is not ("float32" or "float16"))
                {
                    throw new InvalidDataException($"{what}: fill 'normal' needs a float dtype, not {Dtype}.");
                }

                if (Std is not { } std || !(std >= 0) || double.IsInfinity(std))
                {
                    throw new InvalidDataException($"{what}: fill 'normal' needs a finite std of 0 or more.");
                }

                break;
            case "values":
                if (Values is null || Values.Length != elements)
                {
                    throw new InvalidDataException($"{what}: fill 'values' needs {elements} values, but has {Values?.Length ?? 0}.");
                }

                break;
            default:
                throw new InvalidDataException($"{what} has fill '{Fill}'; expected normal, ones, zeros or values.");
        }
    }
}
