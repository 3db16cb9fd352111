using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace OnnxGpt.Bench;

/// <summary>Measures the machine's memory read bandwidth: sums a buffer larger than the caches with <see cref="Vector{T}"/> on every core.</summary>
internal static class MemoryBandwidth
{
    /// <summary>Best of <paramref name="passes"/> read passes over <paramref name="bytes"/> of native memory, in GB/s (10^9 bytes per second).</summary>
    public static unsafe double Measure(long bytes, int passes = 3, CancellationToken cancellationToken = default)
    {
        var count = (nuint)(bytes / sizeof(float));
        var data = (float*)NativeMemory.AlignedAlloc(count * sizeof(float), 64);
        try
        {
            // Touch every page first so the passes read memory, not page faults.
            new Span<float>(data, (int)Math.Min(count, int.MaxValue)).Fill(1f);
            if (count > int.MaxValue)
            {
                new Span<float>(data + int.MaxValue, (int)(count - int.MaxValue)).Fill(1f);
            }

            var workers = Environment.ProcessorCount;
            var best = 0.0;
            var sink = 0f;
            for (var pass = 0; pass < passes; pass++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var partial = new float[workers];
                var started = Stopwatch.GetTimestamp();
                Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
                {
                    var per = count / (nuint)workers;
                    var from = per * (nuint)w;
                    var to = w == workers - 1 ? count : from + per;
                    partial[w] = Sum(data + from, to - from);
                });
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                sink += partial.Sum();
                best = Math.Max(best, count * sizeof(float) / seconds / 1e9);
            }

            GC.KeepAlive(sink);
            return best;
        }
        finally
        {
            NativeMemory.AlignedFree(data);
        }
    }

    private static unsafe float Sum(float* p, nuint length)
    {
        var width = (nuint)Vector<float>.Count;
        Vector<float> a = default, b = default, c = default, d = default;
        nuint i = 0;
        for (; i + (4 * width) <= length; i += 4 * width)
        {
            a += Vector.Load(p + i);
            b += Vector.Load(p + i + width);
            c += Vector.Load(p + i + (2 * width));
            d += Vector.Load(p + i + (3 * width));
        }

        var sum = Vector.Sum(a + b + c + d);
        for (; i < length; i++)
        {
            sum += p[i];
        }

        return sum;
    }
}
