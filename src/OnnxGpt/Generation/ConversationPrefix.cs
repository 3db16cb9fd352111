using System.Numerics;

namespace OnnxGpt.Generation;

/// <summary>The one rule both backends use to continue a kept conversation: how much of its cache the next prompt reuses.</summary>
internal static class ConversationPrefix
{
    /// <summary>
    /// The longest prefix the prompt shares with the ids a kept cache holds, at most <paramref name="maxLength"/> (what
    /// the cache can be rewound to) and never the whole prompt: at least one prompt token always runs, for the next
    /// token's scores.
    /// </summary>
    public static int Shared<TId>(ReadOnlySpan<TId> held, IReadOnlyList<int> prompt, int maxLength)
        where TId : IBinaryInteger<TId>
    {
        var limit = Math.Min(Math.Min(held.Length, maxLength), prompt.Count - 1);
        var shared = 0;
        while (shared < limit && int.CreateTruncating(held[shared]) == prompt[shared])
        {
            shared++;
        }

        return shared;
    }
}
