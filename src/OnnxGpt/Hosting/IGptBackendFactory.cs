using OnnxGpt.Generation;

namespace OnnxGpt.Hosting;

/// <summary>
/// Creates generators for a <see cref="GptBackend"/> other than OnnxGpt's own. A backend package registers one
/// (for example OnnxGpt.GenAI through <c>UseOnnxRuntimeGenAI()</c>); <c>AddGpt</c> uses it for every model whose
/// <see cref="GptOptions.Backend"/> names it.
/// </summary>
public interface IGptBackendFactory
{
    /// <summary>The backend this factory serves.</summary>
    GptBackend Backend { get; }

    /// <summary>Creates the generator of one registered model. The container disposes it if it is <see cref="IDisposable"/>.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="options">The model's validated options.</param>
    /// <returns>The generator.</returns>
    IGptGenerator Create(IServiceProvider services, GptOptions options);
}
