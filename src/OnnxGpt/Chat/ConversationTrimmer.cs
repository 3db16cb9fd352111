using Microsoft.Extensions.AI;
using OnnxGpt.Tokenization;

namespace OnnxGpt.Chat;

/// <summary>
/// Fits a conversation into the context: renders it with whatever template, measures the prompt's tokens, and drops
/// the oldest whole turns after the leading system messages until the prompt leaves the reserve free. A separate step
/// around rendering, so it works with any <see cref="IChatTemplate"/>.
/// </summary>
internal sealed class ConversationTrimmer(GptTokenizer tokenizer, int contextLength)
{
    /// <summary>The conversation as it will be sent: the prompt, the messages kept, and how many were dropped.</summary>
    public readonly record struct Fitted(string Prompt, IReadOnlyList<ChatMessage> Messages, int Dropped, int PromptTokens, int Budget);

    /// <summary>
    /// Renders <paramref name="messages"/>, dropping the oldest turns while the prompt exceeds the context less
    /// <paramref name="reserve"/>. When even the latest turn alone does not fit, it is sent alone (the generator
    /// then reports what cannot be done).
    /// </summary>
    public Fitted Fit(IReadOnlyList<ChatMessage> messages, int reserve, Func<IReadOnlyList<ChatMessage>, string> render)
    {
        var budget = Math.Max(1, contextLength - Math.Clamp(reserve, 0, contextLength - 1));
        var prompt = render(messages);
        var tokens = tokenizer.Encode(prompt).Count;
        if (tokens <= budget)
        {
            return new Fitted(prompt, messages, 0, tokens, budget);
        }

        // Turns start at user messages; the system messages before the first turn are the conversation's frame.
        var keep = 0;
        while (keep < messages.Count && messages[keep].Role == ChatRole.System)
        {
            keep++;
        }

        var cuts = new List<int>();
        for (var i = keep + 1; i < messages.Count; i++)
        {
            if (messages[i].Role == ChatRole.User)
            {
                cuts.Add(i);
            }
        }

        if (cuts.Count == 0)
        {
            return new Fitted(prompt, messages, 0, tokens, budget);
        }

        // The fewest dropped turns that fit, by binary search: a prompt only shortens as turns go.
        var (low, high) = (0, cuts.Count - 1);
        Fitted? best = null;
        while (low <= high)
        {
            var mid = (low + high) / 2;
            var candidate = Without(messages, keep, cuts[mid]);
            var text = render(candidate);
            var count = tokenizer.Encode(text).Count;
            if (count <= budget)
            {
                best = new Fitted(text, candidate, cuts[mid] - keep, count, budget);
                high = mid - 1;
            }
            else
            {
                low = mid + 1;
            }
        }

        if (best is { } fitted)
        {
            return fitted;
        }

        var last = Without(messages, keep, cuts[^1]);
        var lastText = render(last);
        return new Fitted(lastText, last, cuts[^1] - keep, tokenizer.Encode(lastText).Count, budget);
    }

    private static List<ChatMessage> Without(IReadOnlyList<ChatMessage> messages, int from, int to)
    {
        var kept = new List<ChatMessage>(messages.Count - (to - from));
        for (var i = 0; i < messages.Count; i++)
        {
            if (i < from || i >= to)
            {
                kept.Add(messages[i]);
            }
        }

        return kept;
    }
}
