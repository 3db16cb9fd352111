using OnnxGpt.Constraints;
using OnnxGpt.Generation;
using OnnxGpt.Sampling;

namespace OnnxGpt.Tests.Constraints;

/// <summary>
/// Greedy constrained decoding done the slow way: at each step every token of the vocabulary is fed to a copy of the
/// matcher on its own, with the same closing rule as the constraint (a token must leave the output closable within the
/// tokens left), and the most likely allowed token is taken.
/// </summary>
internal static class ConstrainedOracle
{
    public static List<int> Greedy(GptModel model, string schema, IReadOnlyList<int> prompt, int maxNewTokens)
    {
        var grammar = JsonSchemaConstraint.Get(new JsonOutputFrame(string.Empty, schema, string.Empty), "schema");
        var tokens = TokenTrie.TokenBytes(model.Tokenizer!, model.Info.VocabularySize);
        var eosIds = model.Info.EosTokenIds;
        var matcher = grammar.Matcher();
        var ids = new List<int>();
        var logits = new float[model.Info.VocabularySize];
        using var decoder = new DecoderSession(model, prompt.Count + maxNewTokens, CancellationToken.None);
        decoder.Prefill(prompt);
        for (var step = 0; step < maxNewTokens && !matcher.Complete; step++)
        {
            decoder.Logits.AsSpan(0, logits.Length).CopyTo(logits);
            var remaining = maxNewTokens - step;
            var needed = matcher.States.Min(s => s.RemainingTotal());
            var critical = remaining - 1 < needed + 48;
            var costs = new int?[logits.Length];
            for (var id = 0; id < logits.Length; id++)
            {
                if (id >= tokens.Length || tokens[id] is not { Length: > 0 } bytes || eosIds.Contains(id))
                {
                    continue;
                }

                var copy = grammar.Matcher();
                copy.States.Clear();
                copy.States.AddRange(matcher.States);
                if (copy.Feed(bytes))
                {
                    costs[id] = copy.States.Min(s => s.RemainingTotal());
                }
            }

            var best = costs.Where(c => c is not null).Min();
            var fits = costs.Any(c => c <= remaining - 1);
            for (var id = 0; id < logits.Length; id++)
            {
                var allowed = costs[id] is { } cost && (!critical || cost <= remaining - 1 || (!fits && cost == best));
                var eos = eosIds.Contains(id);
                if (eos ? !matcher.Accepting : !allowed)
                {
                    logits[id] = float.NegativeInfinity;
                }
            }

            var next = TokenSampler.ArgMax(logits);
            ids.Add(next);
            if (eosIds.Contains(next))
            {
                break;
            }

            matcher.Feed(tokens[next]);
            decoder.Step(next);
        }

        return ids;
    }
}
