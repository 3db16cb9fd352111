using OnnxGpt.Generation;

namespace OnnxGpt.Tests;

/// <summary>Test fixtures over the embedded tiny-shakespeare model, loaded once per fixture, with a generator over it.</summary>
public abstract class TinyShakespeareFixture
{
    /// <summary>The loaded model.</summary>
    protected GptModel Model { get; private set; } = null!;

    /// <summary>A generator over <see cref="Model"/>.</summary>
    protected GptGenerator Generator { get; private set; } = null!;

    [OneTimeSetUp]
    public void LoadModel()
    {
        Model = GptModel.Load(TestPaths.TinyShakespeare);
        Generator = GptGenerator.Create(Model);
    }

    [OneTimeTearDown]
    public void UnloadModel() => Model.Dispose();
}
