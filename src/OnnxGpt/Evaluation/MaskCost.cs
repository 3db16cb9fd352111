using System.Diagnostics;
using System.Text;
using OnnxGpt.Constraints;
using OnnxGpt.Generation;

namespace OnnxGpt.Evaluation;

/// <summary>
/// Measures what a JSON constraint's mask costs per step on a model's vocabulary, without the mask cache (the worst
/// case: a state never seen before), for the benchmark.
/// </summary>
internal static class MaskCost
{
    private const string Schema = """{"type":"object","properties":{"name":{"type":"string","maxLength":24},"text":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":120}},"required":["name","text","age"],"additionalProperties":false}""";

    /// <summary>The states measured: inside a bounded string, inside a free string, inside a bounded number, between members.</summary>
    private static readonly string[] Prefixes = ["{\"name\":\"Romeo Mont", "{\"name\":\"Romeo\",\"text\":\"But soft, what light", "{\"name\":\"Romeo\",\"text\":\"\",\"age\":1", "{\"name\":\"Romeo\""];

    /// <summary>The median milliseconds of one mask over the states measured, and the vocabulary size.</summary>
    /// <param name="model">A model with a tokenizer.</param>
    /// <param name="rounds">How many times each state is measured.</param>
    public static (double MedianMs, double WorstMs, int Vocabulary) Measure(GptModel model, int rounds = 30)
    {
        var trie = TokenTrie.For(model.RequireTokenizer(), model.Info.VocabularySize);
        var constraint = JsonSchemaConstraint.Get(new JsonOutputFrame(string.Empty, Schema, string.Empty), "schema");
        var all = new List<double>();
        var worst = 0.0;
        foreach (var prefix in Prefixes)
        {
            var times = new List<double>();
            for (var i = 0; i < rounds; i++)
            {
                var state = (JsonTokenConstraint)constraint.Start(trie, model.Info.EosTokenIds);
                state.Matcher.Feed(Encoding.UTF8.GetBytes(prefix));
                var started = Stopwatch.GetTimestamp();
                state.Allowed(int.MaxValue / 2);
                times.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }

            times.Sort();
            all.Add(times[times.Count / 2]);
            worst = Math.Max(worst, times[times.Count / 2]);
        }

        all.Sort();
        return ((all[(all.Count - 1) / 2] + all[all.Count / 2]) / 2, worst, trie.VocabularySize);
    }
}
