using System.Runtime.CompilerServices;
using OnnxGpt.Generation;
using OnnxGpt.Telemetry;

namespace OnnxGpt.Hosting;

/// <summary>
/// Lets at most a fixed number of generations run at once over another generator; further requests wait in a
/// bounded queue (in arrival order) or are refused with <see cref="GptQueueFullException"/> when it is full.
/// A request cancelled while waiting leaves the queue at once.
/// </summary>
public sealed class ConcurrencyLimitedGenerator : DelegatingGptGenerator
{
    private readonly SemaphoreSlim _slots;
    private readonly int _maxConcurrent;
    private readonly int? _maxQueued;
    private KeyValuePair<string, object?>? _modelTag;
    private int _waiting;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The generator that does the work; disposed with this one if it is <see cref="IDisposable"/>.</param>
    /// <param name="maxConcurrentRequests">Generations allowed to run at once (1 or more).</param>
    /// <param name="maxQueuedRequests">Requests allowed to wait (0 or more); null: no limit.</param>
    /// <exception cref="ArgumentOutOfRangeException">A limit is out of range.</exception>
    public ConcurrencyLimitedGenerator(IGptGenerator inner, int maxConcurrentRequests, int? maxQueuedRequests)
        : base(inner)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrentRequests, 1);
        if (maxQueuedRequests is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxQueuedRequests), maxQueuedRequests, "MaxQueuedRequests must be 0 or more.");
        }

        _maxConcurrent = maxConcurrentRequests;
        _maxQueued = maxQueuedRequests;
        _slots = new SemaphoreSlim(maxConcurrentRequests, maxConcurrentRequests);
    }

    // The queued counter's model, read when first needed: a wrapped generator need not describe a model (a test
    // double, a remote engine), and then the queue is counted without one.
    private KeyValuePair<string, object?> ModelTag => _modelTag ??= new("gen_ai.request.model", ModelName());

    private string? ModelName()
    {
        try
        {
            return GenAIInstruments.ModelName(InnerGenerator.ModelInfo.ModelPath);
        }
        catch (NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The generator that does the work.</summary>
    internal IGptGenerator Inner => InnerGenerator;

    /// <summary>Generations running now.</summary>
    public int Running => _maxConcurrent - _slots.CurrentCount;

    /// <summary>Requests waiting for a slot now.</summary>
    public int Queued => Volatile.Read(ref _waiting);

    /// <inheritdoc />
    public override async IAsyncEnumerable<GeneratedToken> StreamAsync(GptPrompt prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        if (!_slots.Wait(0, CancellationToken.None))
        {
            var waiting = Interlocked.Increment(ref _waiting);
            GenAIInstruments.QueuedRequests.Add(1, ModelTag);
            try
            {
                if (waiting > _maxQueued)
                {
                    throw new GptQueueFullException(Running, waiting - 1);
                }

                await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                Interlocked.Decrement(ref _waiting);
                GenAIInstruments.QueuedRequests.Add(-1, ModelTag);
            }
        }

        try
        {
            await foreach (var token in InnerGenerator.StreamAsync(prompt, options, cancellationToken).ConfigureAwait(false))
            {
                yield return token;
            }
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _slots.Dispose();
        }

        base.Dispose(disposing);
    }
}
