using OnnxGpt.Tokenization;
using OracleTokenizer = Tokenizers.DotNet.Tokenizer;

namespace OnnxGpt.Tests.Tokenization.TokenizerJson;

/// <summary>
/// Differential tests against Hugging Face's own tokenizers library (the Rust crate, through Tokenizers.DotNet): ids with
/// and without special tokens and decoded text must be identical over Tiny Shakespeare and the hard cases.
/// </summary>
[TestFixture]
[Parallelizable(ParallelScope.Children)]
public sealed class OracleTests
{
    private const int CorpusLines = 3000;

    public static IEnumerable<string> Families() => HubTokenizers.AllFamilies;

    [TestCaseSource(nameof(Families))]
    public void IdsAndDecodedTextEqualTheRustLibrary(string family)
    {
        using var temp = new TempDirectory();
        var tokenizer = HubTokenizers.Get(family);
        using var withSpecials = new OracleTokenizer(Path.Combine(HubTokenizers.Folder(family), "tokenizer.json"));
        using var withoutSpecials = new OracleTokenizer(HubTokenizers.WithoutPostProcessor(family, temp.Path));

        var failures = new List<string>();
        var compared = 0;
        foreach (var text in HubTokenizers.HardCases.Concat(HubTokenizers.CorpusTexts(CorpusLines)))
        {
            compared++;
            var expected = withSpecials.Encode(text).Select(id => (int)id).ToArray();
            var expectedRaw = withoutSpecials.Encode(text).Select(id => (int)id).ToArray();
            var actual = tokenizer.Encode(text, addSpecialTokens: true).ToArray();
            var actualRaw = tokenizer.Encode(text, addSpecialTokens: false).ToArray();
            if (!actual.SequenceEqual(expected))
            {
                failures.Add($"ids of {Show(text)}: expected [{string.Join(", ", expected)}], got [{string.Join(", ", actual)}]");
            }

            if (!actualRaw.SequenceEqual(expectedRaw))
            {
                failures.Add($"ids without special tokens of {Show(text)}: expected [{string.Join(", ", expectedRaw)}], got [{string.Join(", ", actualRaw)}]");
            }

            // The oracle decodes with skip_special_tokens=True.
            var expectedText = withSpecials.Decode([.. expected.Select(id => (uint)id)]);
            var actualText = tokenizer.Pipeline!.Decode(expected, skipSpecialTokens: true);
            if (actualText != expectedText)
            {
                failures.Add($"decode of {Show(text)}: expected {Show(expectedText)}, got {Show(actualText)}");
            }

            if (failures.Count >= 10)
            {
                break;
            }
        }

        Assert.That(failures, Is.Empty, $"{family}: {failures.Count} differences in {compared} texts:\n" + string.Join('\n', failures));
        Assert.That(compared, Is.GreaterThan(CorpusLines));
    }

    private static string Show(string text) => System.Text.Json.JsonSerializer.Serialize(text.Length > 200 ? text[..200] + "…" : text);
}
