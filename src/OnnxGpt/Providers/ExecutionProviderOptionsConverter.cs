using System.ComponentModel;
using System.Globalization;

namespace OnnxGpt.Providers;

/// <summary>Lets configuration give a provider entry as a plain string, e.g. <c>["Cuda", "Cpu"]</c>.</summary>
internal sealed class ExecutionProviderOptionsConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
        sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
        value is string name ? new ExecutionProviderOptions(name) : base.ConvertFrom(context, culture, value);
}
