using System.Text.Json;

namespace OnnxGpt.Tokenization.TokenizerJson;

/// <summary>What <c>tokenizer_config.json</c> says about special tokens and the model's maximum length.</summary>
internal sealed record TokenizerConfigFile(string? BosToken, string? EosToken, string? PadToken, string? UnknownToken, int? ModelMaxLength)
{
    /// <summary>The file name.</summary>
    public const string FileName = "tokenizer_config.json";

    /// <summary>Reads the file in <paramref name="directory"/>; all null when there is none.</summary>
    /// <exception cref="ModelLoadException">The file is not valid JSON.</exception>
    public static TokenizerConfigFile Read(string directory, string modelPath)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return new TokenizerConfigFile(null, null, null, null, null);
        }

        try
        {
            using var stream = File.OpenRead(path);
            using var document = JsonDocument.Parse(stream, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelLoadException(modelPath, $"{FileName} is not a JSON object. Fix or remove the file.");
            }

            int? maxLength = root.TryGetProperty("model_max_length", out var max) && max.ValueKind == JsonValueKind.Number && max.TryGetDouble(out var value) && value is > 0 and < int.MaxValue
                ? (int)value
                : null;
            return new TokenizerConfigFile(Token(root, "bos_token"), Token(root, "eos_token"), Token(root, "pad_token"), Token(root, "unk_token"), maxLength);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a string that is not valid UTF-8.
            throw new ModelLoadException(modelPath, $"{FileName} is not valid JSON ({ex.Message}). Fix or remove the file.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ModelLoadException(modelPath, $"{FileName} cannot be read ({ex.Message}).", ex);
        }
    }

    /// <summary>A special token given as a string or as an added-token object with "content".</summary>
    private static string? Token(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
            _ => null,
        };
    }
}
