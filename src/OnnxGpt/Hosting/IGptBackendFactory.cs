using OnnxGpt.Generation;

namespace OnnxGpt.Hosting;

/// <summary>
/// Creates generators for a backend other than OnnxGpt's own. A backend package registers one (for example
/// OnnxGpt.GenAI through <c>UseOnnxRuntimeGenAI()</c>); <c>AddGpt</c> uses it for every model whose
/// <see cref="GptOptions.Backend"/> is its <see cref="Name"/> (ignoring case).
/// </summary>
public interface IGptBackendFactory
{
    /// <summary>The backend this factory serves, as <see cref="GptOptions.Backend"/> names it (e.g. <see cref="GptBackend.GenAI"/>).</summary>
    string Name { get; }

    /// <summary>Creates the generator of one registered model. The container disposes it if it is <see cref="IDisposable"/>.</summary>
    /// <param name="services">The application's services.</param>
    /// <param name="optionsName">The name of the model's options instance (<see cref="GptBuilder.OptionsName"/>: its key, or the default name), for the backend's own named options.</param>
    /// <param name="options">The model's validated options.</param>
    /// <returns>The generator.</returns>
    IGptGenerator Create(IServiceProvider services, string optionsName, GptOptions options);
}
