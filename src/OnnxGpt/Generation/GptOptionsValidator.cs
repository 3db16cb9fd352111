using Microsoft.Extensions.Options;
using OnnxGpt.Providers;

namespace OnnxGpt.Generation;

/// <summary>Validates <see cref="GptOptions"/> when the host starts, naming each setting that is wrong.</summary>
public sealed class GptOptionsValidator : IValidateOptions<GptOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, GptOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var prefix = string.IsNullOrEmpty(name) ? "Gpt" : $"Gpt '{name}'";
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ModelPath))
        {
            errors.Add($"{prefix}: ModelPath is required: set it to a model folder (holding model.onnx) or an .onnx file.");
        }

        if (VariantError(options.Variant) is { } variantError)
        {
            errors.Add($"{prefix}: {variantError}");
        }

        for (var i = 0; i < options.ExecutionProviders.Count; i++)
        {
            var provider = options.ExecutionProviders[i];
            if (provider is null)
            {
                errors.Add($"{prefix}: ExecutionProviders[{i}] is empty; give a provider name ({ExecutionProviderOptions.Cuda}, {ExecutionProviderOptions.DirectML} or {ExecutionProviderOptions.Cpu}).");
                continue;
            }

            errors.AddRange(provider.GetErrors().Select(e => $"{prefix}: ExecutionProviders[{i}]: {e}"));
        }

        if (options.RequireExecutionProvider && options.ExecutionProviders.Count == 0)
        {
            errors.Add($"{prefix}: RequireExecutionProvider is set but ExecutionProviders is empty; list the provider that must serve the model first.");
        }

        if (options.IntraOpNumThreads is < 0)
        {
            errors.Add($"{prefix}: IntraOpNumThreads must be 0 (ONNX Runtime's default) or more, but was {options.IntraOpNumThreads}.");
        }

        if (options.MaxConcurrentRequests is < 1)
        {
            errors.Add($"{prefix}: MaxConcurrentRequests must be 1 or more (or unset for no limit), but was {options.MaxConcurrentRequests}.");
        }

        if (options.DraftModelPath is { } draft && string.IsNullOrWhiteSpace(draft))
        {
            errors.Add($"{prefix}: DraftModelPath is empty; set it to a draft model folder (or .onnx file) with the same tokenizer, or leave it unset.");
        }

        if (options.MaxBatchSize < 1)
        {
            errors.Add($"{prefix}: MaxBatchSize must be 1 or more, but was {options.MaxBatchSize}.");
        }

        if (options.MaxKeptConversations < 0)
        {
            errors.Add($"{prefix}: MaxKeptConversations must be 0 or more, but was {options.MaxKeptConversations}.");
        }

        if (options.MaxQueuedRequests is < 0)
        {
            errors.Add($"{prefix}: MaxQueuedRequests must be 0 or more (or unset for no limit), but was {options.MaxQueuedRequests}.");
        }

        if (string.IsNullOrWhiteSpace(options.Backend))
        {
            errors.Add($"{prefix}: Backend must name a backend; use {GptBackend.OnnxGpt} (the default) or a registered one such as {GptBackend.GenAI}.");
        }

        if (options.Generation is not null)
        {
            errors.AddRange(options.Generation.GetErrors().Select(e => $"{prefix}: Generation.{e.Message}"));
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Why <paramref name="variant"/> cannot name a graph variant, or null when it can (null itself is the default).</summary>
    private static string? VariantError(string? variant)
    {
        if (variant is null)
        {
            return null;
        }

        if (string.IsNullOrWhiteSpace(variant))
        {
            return "Variant is empty; leave it unset for model.onnx, or name a variant such as fp16 or q4.";
        }

        if (variant.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            return $"Variant '{variant}' is a file name; give only the variant's NAME of model_NAME.onnx (for example q4), or the whole path as ModelPath.";
        }

        if (variant.IndexOfAny(['/', '\\']) >= 0 || variant.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || variant is "." or ".." || variant.Trim() != variant)
        {
            return $"Variant '{variant}' is not a variant name; give the NAME of model_NAME.onnx (fp16, q4, q4f16, quantized, int8, uint8, bnb4, ...), not a path.";
        }

        return null;
    }
}
