using System.Text.RegularExpressions;

namespace OnnxGpt.Tests.Architecture;

/// <summary>
/// The library's feature namespaces depend on each other one way (issue 15: no namespace cycles): hosting and chat on
/// top, then evaluation; then generation, which holds the loaded model (<c>GptModel</c>, its options and its runtime:
/// sessions, cache pool, conversations, scheduler) with the loop that runs it; then the constraints and the sampler it
/// calls; the chat templates and the tokenizer (detokenizer); the request caches; the model folder (what is on disk:
/// config, graph layout); the execution providers, the native names, telemetry and the root (<c>GptException</c>,
/// <c>ModelLoadException</c>). A source scan of <c>src/OnnxGpt</c> (<c>using OnnxGpt.X;</c> and qualified
/// <c>X.Type</c> references) finds every dependency; one that points up the order would close a namespace cycle.
/// </summary>
[TestFixture]
public sealed partial class NamespaceDependencyTests
{
    /// <summary>Higher depends on lower.</summary>
    private static readonly Dictionary<string, int> Order = new(StringComparer.Ordinal)
    {
        ["DependencyInjection"] = 100,
        ["Chat"] = 95,
        ["Hosting"] = 90,
        ["Evaluation"] = 75,
        ["Generation"] = 70,
        ["Constraints"] = 60,
        ["Sampling"] = 55,
        ["Templates"] = 45,
        ["Tokenization"] = 40,
        ["Caching"] = 35,
        ["Models"] = 32,
        ["Providers"] = 30,
        ["Native"] = 20,
        ["Telemetry"] = 10,
        ["(root)"] = 0,
    };

    [Test]
    public void No_dependency_points_up_the_order()
    {
        var back = Dependencies().Where(e => Order[e.From] <= Order[e.To]).Select(e => $"{e.From} -> {e.To}").Distinct().Order(StringComparer.Ordinal).ToList();

        Assert.That(back, Is.Empty, "a dependency up the order closes a namespace cycle; point it down (move the type, or pass what is needed in)");
    }

    [Test]
    public void The_scan_sees_the_dependencies_it_should()
    {
        var edges = Dependencies().Select(e => $"{e.From} -> {e.To}").ToHashSet();

        // The loop uses the sampler and the detokenizer; AddGpt uses the model: if the scan missed these, it would prove nothing.
        Assert.That(edges, Is.SupersetOf(new[] { "Generation -> Sampling", "Generation -> Tokenization", "DependencyInjection -> Generation" }));
    }

    private static List<(string From, string To)> Dependencies()
    {
        var source = Path.Combine(RepositoryRoot(), "src", "OnnxGpt");
        var areas = Order.Keys.Where(k => k is not "(root)" and not "DependencyInjection").ToHashSet(StringComparer.Ordinal);
        var qualified = new Regex(@"(?<![\w.])(?:OnnxGpt\.)?(" + string.Join("|", areas) + @")\.[A-Z]\w*", RegexOptions.CultureInvariant);
        var edges = new List<(string From, string To)>();
        foreach (var file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal) || file.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            {
                continue;
            }

            var text = File.ReadAllText(file);
            var declared = NamespaceDeclaration().Match(text);
            if (!declared.Success)
            {
                continue;
            }

            var parts = declared.Groups[1].Value.Split('.');
            var from = parts[0] == "OnnxGpt" ? (parts.Length > 1 ? parts[1] : "(root)") : parts[^1];
            var code = LineComment().Replace(text, string.Empty);
            var used = UsingOnnxGpt().Matches(code).Select(m => m.Groups[1].Value)
                .Concat(qualified.Matches(code).Select(m => m.Groups[1].Value));
            foreach (var to in used.Distinct(StringComparer.Ordinal))
            {
                if (to != from && areas.Contains(to))
                {
                    Assert.That(Order.ContainsKey(from), $"{file} declares {declared.Groups[1].Value}, which has no place in the order");
                    edges.Add((from, to));
                }
            }
        }

        return edges;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "src", "OnnxGpt", "OnnxGpt.csproj")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No src/OnnxGpt/OnnxGpt.csproj above {AppContext.BaseDirectory}.");
    }

    [GeneratedRegex(@"^namespace ([\w.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"//.*")]
    private static partial Regex LineComment();

    [GeneratedRegex(@"^using (?:static )?OnnxGpt\.(\w+)", RegexOptions.Multiline)]
    private static partial Regex UsingOnnxGpt();
}
