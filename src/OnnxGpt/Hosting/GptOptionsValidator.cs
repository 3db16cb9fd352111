using Microsoft.Extensions.Options;
using OnnxGpt.Providers;

namespace OnnxGpt.Hosting;

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

        foreach (var provider in options.ExecutionProviders)
        {
            if (provider is null || !provider.IsKnown)
            {
                errors.Add($"{prefix}: ExecutionProviders contains '{provider?.Name}', which is not a known provider; use {ExecutionProviderOptions.Cuda}, {ExecutionProviderOptions.DirectML} or {ExecutionProviderOptions.Cpu}.");
            }
            else if (provider.DeviceId < 0)
            {
                errors.Add($"{prefix}: ExecutionProviders: {provider.Name} DeviceId must be 0 or more, but was {provider.DeviceId}.");
            }
        }

        if (options.IntraOpNumThreads is < 0)
        {
            errors.Add($"{prefix}: IntraOpNumThreads must be 0 (ONNX Runtime's default) or more, but was {options.IntraOpNumThreads}.");
        }

        if (options.MaxConcurrentRequests is < 1)
        {
            errors.Add($"{prefix}: MaxConcurrentRequests must be 1 or more (or unset for no limit), but was {options.MaxConcurrentRequests}.");
        }

        if (options.MaxQueuedRequests is < 0)
        {
            errors.Add($"{prefix}: MaxQueuedRequests must be 0 or more (or unset for no limit), but was {options.MaxQueuedRequests}.");
        }

        if (!Enum.IsDefined(options.Backend))
        {
            errors.Add($"{prefix}: Backend '{options.Backend}' is not known; use {GptBackend.OnnxGpt} or {GptBackend.GenAI}.");
        }

        if (options.Generation is not null)
        {
            errors.AddRange(options.Generation.GetErrors().Select(e => $"{prefix}: Generation.{e.Message}"));
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
