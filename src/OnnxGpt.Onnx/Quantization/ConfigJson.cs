using System.Text.Json.Serialization;

namespace OnnxGpt.Onnx.Quantization;

/// <summary>Source-generated JSON for <c>quantize_config.json</c>.</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(Dictionary<string, object?>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(Dictionary<string, int>))]
internal sealed partial class ConfigJson : JsonSerializerContext;
