namespace OnnxGpt.GenAI;

/// <summary>
/// The onnxruntime-genai generators of recent conversations (<see cref="Generation.GenerationOptions.ConversationId"/>),
/// least recently used evicted first. A request takes its conversation's generator out while it runs, so two requests
/// never share one; evicted, replaced and remaining generators are disposed.
/// </summary>
internal sealed class GenAIConversationStore : IDisposable
{
    private readonly Lock _gate = new();
    private readonly LinkedList<(string Id, GenAISequence Sequence)> _recent = new();
    private readonly Dictionary<string, LinkedListNode<(string Id, GenAISequence Sequence)>> _byId = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private bool _disposed;

    /// <summary>Creates a store that keeps at most <paramref name="capacity"/> conversations (0: none).</summary>
    /// <param name="capacity">The most conversations kept.</param>
    public GenAIConversationStore(int capacity) => _capacity = capacity;

    /// <summary>The most conversations kept.</summary>
    public int Capacity => _capacity;

    /// <summary>Conversations kept now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>Takes the conversation's kept generator out of the store, or null.</summary>
    /// <param name="id">The conversation.</param>
    public GenAISequence? Take(string id)
    {
        lock (_gate)
        {
            if (!_byId.Remove(id, out var node))
            {
                return null;
            }

            _recent.Remove(node);
            return node.Value.Sequence;
        }
    }

    /// <summary>Keeps a generator for the conversation's next turn, evicting the least recently used beyond capacity.</summary>
    /// <param name="id">The conversation.</param>
    /// <param name="sequence">The generator, now owned by the store (disposed at once when the store is disposed or keeps none).</param>
    public void Put(string id, GenAISequence sequence)
    {
        var evicted = new List<GenAISequence>();
        lock (_gate)
        {
            if (_disposed || _capacity == 0)
            {
                evicted.Add(sequence);
            }
            else
            {
                if (_byId.Remove(id, out var old))
                {
                    _recent.Remove(old);
                    evicted.Add(old.Value.Sequence);
                }

                _byId[id] = _recent.AddFirst((id, sequence));
                while (_byId.Count > _capacity)
                {
                    var last = _recent.Last!;
                    _recent.RemoveLast();
                    _byId.Remove(last.Value.Id);
                    evicted.Add(last.Value.Sequence);
                }
            }
        }

        foreach (var dropped in evicted)
        {
            dropped.Dispose();
        }
    }

    /// <summary>Disposes every kept generator; later <see cref="Put"/> calls dispose what they are given.</summary>
    public void Dispose()
    {
        List<GenAISequence> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _recent.Select(n => n.Sequence)];
            _recent.Clear();
            _byId.Clear();
        }

        foreach (var sequence in all)
        {
            sequence.Dispose();
        }
    }
}
