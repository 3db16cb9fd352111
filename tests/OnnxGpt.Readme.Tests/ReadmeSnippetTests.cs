using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace OnnxGpt.Readme.Tests;

/// <summary>
/// Every ```csharp block of README.md compiles as a console app's Program.cs (top-level statements, the SDK's implicit
/// usings) against the built OnnxGpt assemblies, so the README's code stays true.
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    /// <summary>The usings every console app gets from the SDK (ImplicitUsings); a snippet brings its others.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly Lazy<MetadataReference[]> References = new(LoadReferences);

    public static IEnumerable<TestCaseData> Snippets() => ReadSnippets().Select(s => new TestCaseData(s.Code).SetArgDisplayNames($"README.md line {s.Line}"));

    [TestCaseSource(nameof(Snippets))]
    public void The_snippet_compiles(string code)
    {
        var compilation = CSharpCompilation.Create(
            "ReadmeSnippet",
            [CSharpSyntaxTree.ParseText(ImplicitUsings), CSharpSyntaxTree.ParseText(code, new CSharpParseOptions(LanguageVersion.Latest))],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));

        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();

        Assert.That(errors, Is.Empty, code);
    }

    [Test]
    public void The_readme_has_the_snippets_this_test_compiles()
    {
        // Guards the extraction itself: the README's streaming and chat examples are among them.
        var snippets = ReadSnippets();

        Assert.Multiple(() =>
        {
            Assert.That(snippets, Has.Count.GreaterThanOrEqualTo(2));
            Assert.That(snippets.Select(s => s.Code), Has.Some.Contains("StreamAsync(\"ROMEO:\""));
            Assert.That(snippets.Select(s => s.Code), Has.Some.Contains("GetStreamingResponseAsync"));
        });
    }

    [Test]
    public void A_snippet_that_does_not_compile_is_reported()
    {
        // The first README's mistake: a cancellation token the snippet never declares.
        var compilation = CSharpCompilation.Create(
            "Broken",
            [CSharpSyntaxTree.ParseText(ImplicitUsings), CSharpSyntaxTree.ParseText("await Task.Delay(1, ct);")],
            References.Value,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication));

        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.Id);

        Assert.That(errors, Is.EqualTo(new[] { "CS0103" }));
    }

    private static List<(int Line, string Code)> ReadSnippets()
    {
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md"));
        return [.. CSharpBlock().Matches(readme).Select(m => (readme[..m.Index].Count(c => c == '\n') + 1, m.Groups["code"].Value))];
    }

    private static MetadataReference[] LoadReferences()
    {
        // The framework the tests run on, and every managed assembly beside the tests (OnnxGpt and its dependencies).
        var framework = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var local = Directory.GetFiles(AppContext.BaseDirectory, "*.dll");
        return [.. framework.Concat(local)
            .Where(IsManaged)
            .GroupBy(Path.GetFileName, StringComparer.OrdinalIgnoreCase)
            .Select(g => MetadataReference.CreateFromFile(g.First()))];
    }

    private static bool IsManaged(string path)
    {
        try
        {
            System.Reflection.AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^```csharp\r?\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
