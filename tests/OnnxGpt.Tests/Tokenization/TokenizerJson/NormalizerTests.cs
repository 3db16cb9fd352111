using OnnxGpt.Tokenization.TokenizerJson;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>Normalizers whose meaning .NET's own methods do not give directly.</summary>
[TestFixture]
public sealed class NormalizerTests
{
    [TestCase("İ", "i\u0307")]
    [TestCase("İSTANBUL", "i\u0307stanbul")]
    [TestCase("aİbİ", "ai\u0307bi\u0307")]
    [TestCase("ΣΑΣ", "σασ")]
    [TestCase("ABC", "abc")]
    [TestCase("𐐀x", "𐐨x")]
    [TestCase("", "")]
    public void Lowercase_uses_the_full_case_mapping_of_rust_char_to_lowercase(string text, string expected)
    {
        // Rust's char::to_lowercase maps U+0130 to two characters, and has no final-sigma rule.
        Assert.That(new LowercaseJsonNormalizer().Normalize(text), Is.EqualTo(expected));
    }
}
