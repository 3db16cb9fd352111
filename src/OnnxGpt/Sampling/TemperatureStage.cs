namespace OnnxGpt.Sampling;

/// <summary>Divides every score by the temperature (Hugging Face's <c>TemperatureLogitsWarper</c>).</summary>
public sealed class TemperatureStage : ISamplingStage
{
    /// <summary>Creates the stage.</summary>
    /// <param name="temperature">More than 0: below 1 sharpens the distribution, above 1 flattens it.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="temperature"/> is not a finite number above 0.</exception>
    public TemperatureStage(float temperature)
    {
        if (!(temperature > 0) || float.IsInfinity(temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Temperature must be a finite number above 0.");
        }

        Temperature = temperature;
    }

    /// <summary>The temperature.</summary>
    public float Temperature { get; }

    /// <inheritdoc />
    public void Apply(Span<float> logits, ReadOnlySpan<int> tokenIds)
    {
        var t = Temperature;
        for (var i = 0; i < logits.Length; i++)
        {
            logits[i] /= t;
        }
    }
}
