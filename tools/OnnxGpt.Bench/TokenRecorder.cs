using System.Diagnostics;

namespace OnnxGpt.Bench;

/// <summary>
/// Collects one generation's timeline without allocating: a timestamp per token, the ids, and the managed bytes
/// allocated by the whole process over the decode phase (between the first and the last token), less what the
/// working-set sampler allocated meanwhile.
/// </summary>
internal sealed class TokenRecorder
{
    private readonly long[] _times;
    private readonly int[] _ids;
    private readonly WorkingSetSampler? _sampler;
    private long _start;
    private long _decodeStart;
    private long _allocationStart;
    private long _allocationEnd = -1;
    private int _count;

    public TokenRecorder(int expectedTokens, WorkingSetSampler? sampler)
    {
        _times = new long[expectedTokens];
        _ids = new int[expectedTokens];
        _sampler = sampler;
    }

    public int Count => _count;

    /// <summary>Marks the request's start (before the prompt is processed).</summary>
    public void Start()
    {
        _start = Stopwatch.GetTimestamp();
    }

    /// <summary>Records a generated token. Returns false when the expected number of tokens is reached.</summary>
    public bool OnToken(int id)
    {
        var now = Stopwatch.GetTimestamp();
        if (_count == _times.Length)
        {
            throw new InvalidOperationException($"The implementation generated more than the {_times.Length} tokens asked for.");
        }

        _times[_count] = now;
        _ids[_count] = id;
        _count++;
        if (_count == 1)
        {
            _allocationStart = AllocatedBytes();

            // The next step is timed from here, so the allocation probe above is in no step's time.
            _decodeStart = Stopwatch.GetTimestamp();
        }

        if (_count == _times.Length)
        {
            _allocationEnd = AllocatedBytes();
            return false;
        }

        return true;
    }

    /// <summary>Ends the run (for runs cut short by an end-of-sequence token) and returns its trace.</summary>
    public RunTrace Finish(int promptLength)
    {
        if (_count == 0)
        {
            throw new InvalidOperationException("The implementation generated no token.");
        }

        if (_allocationEnd < 0)
        {
            _allocationEnd = AllocatedBytes();
        }

        var steps = new double[_count];
        for (var k = 1; k < _count; k++)
        {
            var from = k == 1 ? _decodeStart : _times[k - 1];
            steps[k] = Stopwatch.GetElapsedTime(from, _times[k]).TotalMilliseconds;
        }

        var decodeSeconds = _count > 1 ? Stopwatch.GetElapsedTime(_decodeStart, _times[_count - 1]).TotalSeconds : 0;
        return new RunTrace
        {
            PromptLength = promptLength,
            TokenIds = _ids.AsSpan(0, _count).ToArray(),
            TimeToFirstTokenMs = Stopwatch.GetElapsedTime(_start, _times[0]).TotalMilliseconds,
            DecodeTokensPerSecond = decodeSeconds > 0 ? (_count - 1) / decodeSeconds : null,
            StepMs = steps,
            AllocatedBytesPerToken = _count > 1 ? (double)(_allocationEnd - _allocationStart) / (_count - 1) : null,
        };
    }

    private long AllocatedBytes() => GC.GetTotalAllocatedBytes(precise: true) - (_sampler?.AllocatedBytes ?? 0);
}

/// <summary>One generation's measurements.</summary>
internal sealed class RunTrace
{
    public required int PromptLength { get; init; }

    public required int[] TokenIds { get; init; }

    public required double TimeToFirstTokenMs { get; init; }

    public required double? DecodeTokensPerSecond { get; init; }

    /// <summary>
    /// Step times in ms: <c>StepMs[k]</c> (k ≥ 1) is the time to produce token k, a step that feeds the token at
    /// position <c>PromptLength + k - 1</c>. Index 0 is unused (the first token comes from the prompt's run).
    /// </summary>
    public required double[] StepMs { get; init; }

    public required double? AllocatedBytesPerToken { get; init; }

    /// <summary>The median step time of the <paramref name="window"/> steps feeding positions [position, position + window), or null if the run did not reach them all.</summary>
    public double? WindowMedianMs(int position, int window)
    {
        var firstStep = position - PromptLength + 1;
        var lastStep = firstStep + window - 1;
        if (firstStep < 1 || lastStep >= StepMs.Length)
        {
            return null;
        }

        return Statistics.Median(StepMs.AsSpan(firstStep, window).ToArray());
    }
}

internal static class Statistics
{
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            throw new InvalidOperationException("No values.");
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static double? MedianOrNull(IEnumerable<double?> values)
    {
        var present = values.Where(v => v.HasValue).Select(v => v!.Value).ToArray();
        return present.Length == 0 ? null : Median(present);
    }
}
