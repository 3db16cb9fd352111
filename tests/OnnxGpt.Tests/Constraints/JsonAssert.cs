using System.Text.Json;
using Json.Schema;

namespace OnnxGpt.Tests.Constraints;

/// <summary>Validates text against a schema with JsonSchema.Net (formats checked too).</summary>
internal static class JsonAssert
{
    public static void Valid(string text, string? schema)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            Assert.Fail($"Not JSON: {ex.Message}\n{text}");
            return;
        }

        using (document)
        {
            if (schema is null)
            {
                return;
            }

            var results = JsonSchema.FromText(schema).Evaluate(document.RootElement, new EvaluationOptions { RequireFormatValidation = true, OutputFormat = OutputFormat.List });
            var errors = (results.Details ?? []).Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"));
            Assert.That(results.IsValid, Is.True, $"{text}\ndoes not match {schema}:\n{string.Join("\n", errors)}");
        }
    }
}
