using OnnxGpt.Tokenization.TokenizerJson;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>The translation of Hugging Face's Oniguruma regexes to .NET, and their code-point semantics.</summary>
[TestFixture]
public sealed class OnigRegexTests
{
    [TestCase(@"\p{N}{1,3}", @"\p{N}{1,3}")]
    [TestCase(@"(?i:'s|'t)", @"(?i:'s|'t)")]
    [TestCase(@"[^\r\n\p{L}\p{N}]?+\p{L}+", @"(?>[^\r\n\p{L}\p{N}]?)\p{L}+")]
    [TestCase(@" ?[^\s\p{L}\p{N}]++[\r\n]*", @" ?(?>[^\s\p{L}\p{N}]+)[\r\n]*")]
    [TestCase(@"(ab)*+c", @"(?>(ab)*)c")]
    [TestCase(@"a{2,}+", @"(?>a{2,})")]
    [TestCase(@"\w+|[^\w\s]+", @"[\p{L}\p{M}\p{Nd}\p{Pc}]+|[^\p{L}\p{M}\p{Nd}\p{Pc}\s]+")]
    [TestCase(@"\h+", @"[0-9a-fA-F]+")]
    [TestCase(@"\x{4E00}-\x{9FA5}", @"\u4E00-\u9FA5")]
    [TestCase(@"\p{^L}", @"\P{L}")]
    [TestCase(@"a{,3}", @"a{,3}")]
    [TestCase(@"{x}", @"\{x}")]
    [TestCase(@"a*?b??", @"a*?b??")]
    public void Translates_oniguruma_syntax(string pattern, string expected)
    {
        Assert.That(OnigRegex.Translate(pattern), Is.EqualTo(expected));
    }

    [TestCase(@"\p{Han}+", "Han")]
    [TestCase(@"[[:alpha:]]", "POSIX")]
    [TestCase(@"[a-z&&[^aeiou]]", "&&")]
    [TestCase(@"\R", @"\R")]
    [TestCase(@"(?~abc)", "(?~")]
    [TestCase(@"\x{1F600}", "outside the BMP")]
    public void Refuses_what_dotnet_cannot_reproduce(string pattern, string named)
    {
        var ex = Assert.Throws<NotSupportedException>(() => OnigRegex.Translate(pattern));
        Assert.That(ex!.Message, Does.Contain(named));
    }

    [Test]
    public void Matches_code_points_not_utf16_units()
    {
        // Oniguruma sees "😀" as one non-letter and "𠀀" as one letter; .NET alone sees two surrogates for each.
        var regex = new OnigRegex(@"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+");
        var matches = new List<(int Start, int Length)>();
        const string text = "😀fin 𠀀𠀁x 𝟎𝟏𝟐𝟑";
        regex.Matches(text, matches);
        var pieces = matches.Select(m => text.Substring(m.Start, m.Length)).ToArray();
        Assert.That(pieces, Is.EqualTo(new[] { "😀fin", " 𠀀𠀁x", "𝟎𝟏𝟐", "𝟑" }));
    }

    [Test]
    public void Possessive_quantifiers_do_not_backtrack()
    {
        var regex = new OnigRegex(@"a++a");
        var matches = new List<(int Start, int Length)>();
        regex.Matches("aaaa", matches);
        Assert.That(matches, Is.Empty, "a++ takes every 'a' and gives none back");
    }
}
