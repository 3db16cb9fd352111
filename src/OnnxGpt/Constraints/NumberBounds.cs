using System.Globalization;

namespace OnnxGpt.Constraints;

/// <summary>
/// Decides whether a number's text so far can still end inside its bounds: the values reachable from a prefix
/// are a few intervals (finish now, add a fraction, add more integer digits), each checked against the bounds.
/// </summary>
internal static class NumberBounds
{
    /// <summary>The most integer digits a number may have (also the most fraction digits).</summary>
    public const int MaxDigits = 15;

    /// <summary>Whether any value satisfies the node's bounds.</summary>
    public static bool AnyValue(NumberNode node) => Feasible(node, string.Empty) || Feasible(node, "-");

    /// <summary>Whether <paramref name="text"/> (sign, digits, dot, fraction digits; no exponent) is itself within bounds.</summary>
    public static bool Complete(NumberNode node, string text)
    {
        if (!node.Bounded)
        {
            return true;
        }

        var value = decimal.Parse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
        return Within(node, value, value, true, true);
    }

    /// <summary>Whether some number starting with <paramref name="text"/> is within the node's bounds.</summary>
    public static bool Feasible(NumberNode node, string text)
    {
        if (!node.Bounded)
        {
            return true;
        }

        var negative = text.StartsWith('-');
        var body = negative ? text[1..] : text;
        var dot = body.IndexOf('.', StringComparison.Ordinal);
        var integer = dot < 0 ? body : body[..dot];
        if (integer.Length == 0)
        {
            // Only a sign so far: any magnitude.
            return negative ? Check(node, true, 0m, null, true, true) : Check(node, false, 0m, null, true, true);
        }

        var d = decimal.Parse(integer, CultureInfo.InvariantCulture);
        if (dot >= 0)
        {
            var fraction = body[(dot + 1)..];
            var m = fraction.Length == 0 ? d : decimal.Parse(integer + "." + fraction, CultureInfo.InvariantCulture);
            var width = Pow10(-fraction.Length);
            return Check(node, negative, m, m + width, true, false);
        }

        if (Check(node, negative, d, d, true, true) || (!node.Integer && Check(node, negative, d, d + 1, true, false)))
        {
            return true;
        }

        if (d == 0)
        {
            return false;
        }

        for (var k = 1; integer.Length + k <= MaxDigits; k++)
        {
            var scale = Pow10(k);
            var low = d * scale;
            var high = (d + 1) * scale;
            if (node.Integer ? Check(node, negative, low, high - 1, true, true) : Check(node, negative, low, high, true, false))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The length of the shortest number within the bounds (for closing within the token budget).</summary>
    public static int ShortestLength(NumberNode node)
    {
        if (Complete(node, "0"))
        {
            return 1;
        }

        var candidates = new List<decimal>();
        foreach (var bound in new[] { node.Minimum, node.Maximum })
        {
            if (bound is { } b)
            {
                candidates.AddRange([Math.Ceiling(b), Math.Floor(b), Math.Ceiling(b) + 1, Math.Floor(b) - 1, b]);
            }
        }

        var best = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var text = candidate.ToString(CultureInfo.InvariantCulture);
            if ((!node.Integer || candidate == Math.Floor(candidate)) && Complete(node, text))
            {
                best = Math.Min(best, text.Length);
            }
        }

        return best == int.MaxValue ? 3 : best;
    }

    /// <summary>Checks the magnitude interval [low, high] (high null: unbounded) with the given sign against the bounds.</summary>
    private static bool Check(NumberNode node, bool negative, decimal low, decimal? high, bool lowClosed, bool highClosed)
    {
        if (!negative)
        {
            return Intersects(node, low, lowClosed, high, highClosed);
        }

        // -[low, high] = [-high, -low].
        return Intersects(node, high is { } h ? -h : null, highClosed, -low, lowClosed);
    }

    private static bool Intersects(NumberNode node, decimal? low, bool lowClosed, decimal? high, bool highClosed)
    {
        if (node.Integer)
        {
            // Integers only: close both ends onto integers.
            decimal? lo = low is { } l ? (lowClosed ? Math.Ceiling(l) : Math.Floor(l) + 1) : null;
            decimal? hi = high is { } h ? (highClosed ? Math.Floor(h) : Math.Ceiling(h) - 1) : null;
            if (node.Minimum is { } min)
            {
                var bound = node.ExclusiveMinimum ? Math.Floor(min) + 1 : Math.Ceiling(min);
                lo = lo is { } x ? Math.Max(x, bound) : bound;
            }

            if (node.Maximum is { } max)
            {
                var bound = node.ExclusiveMaximum ? Math.Ceiling(max) - 1 : Math.Floor(max);
                hi = hi is { } y ? Math.Min(y, bound) : bound;
            }

            return lo is null || hi is null || lo <= hi;
        }

        var (a, aClosed) = (low, lowClosed);
        if (node.Minimum is { } minimum && (a is null || minimum > a || (minimum == a && node.ExclusiveMinimum)))
        {
            (a, aClosed) = (minimum, !node.ExclusiveMinimum);
        }

        var (b, bClosed) = (high, highClosed);
        if (node.Maximum is { } maximum && (b is null || maximum < b || (maximum == b && node.ExclusiveMaximum)))
        {
            (b, bClosed) = (maximum, !node.ExclusiveMaximum);
        }

        return a is null || b is null || a < b || (a == b && aClosed && bClosed);
    }

    private static bool Within(NumberNode node, decimal low, decimal high, bool lowClosed, bool highClosed) => Intersects(node, low, lowClosed, high, highClosed);

    private static decimal Pow10(int exponent)
    {
        var result = 1m;
        for (var i = 0; i < Math.Abs(exponent); i++)
        {
            result = exponent > 0 ? result * 10 : result / 10;
        }

        return result;
    }
}
