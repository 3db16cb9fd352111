namespace OnnxGpt.Generation;

/// <summary>
/// The KV caches of recent conversations (<see cref="GenerationOptions.ConversationId"/>), least recently used
/// evicted first. A request takes its conversation's cache out while it runs, so two requests never share one.
/// </summary>
internal sealed class ConversationStore : IDisposable
{
    private readonly Lock _gate = new();
    private readonly LinkedList<(string Id, DecoderSession Session)> _recent = new();
    private readonly Dictionary<string, LinkedListNode<(string Id, DecoderSession Session)>> _byId = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private bool _disposed;

    public ConversationStore(int capacity) => _capacity = capacity;

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

    /// <summary>Takes the conversation's kept session out of the store, or null.</summary>
    public DecoderSession? Take(string id)
    {
        lock (_gate)
        {
            if (!_byId.Remove(id, out var node))
            {
                return null;
            }

            _recent.Remove(node);
            return node.Value.Session;
        }
    }

    /// <summary>Keeps a session for the conversation's next turn, evicting the least recently used beyond capacity.</summary>
    public void Put(string id, DecoderSession session)
    {
        var evicted = new List<DecoderSession>();
        lock (_gate)
        {
            if (_disposed || _capacity == 0)
            {
                evicted.Add(session);
            }
            else
            {
                if (_byId.Remove(id, out var old))
                {
                    _recent.Remove(old);
                    evicted.Add(old.Value.Session);
                }

                _byId[id] = _recent.AddFirst((id, session));
                while (_byId.Count > _capacity)
                {
                    var last = _recent.Last!;
                    _recent.RemoveLast();
                    _byId.Remove(last.Value.Id);
                    evicted.Add(last.Value.Session);
                }
            }
        }

        foreach (var dropped in evicted)
        {
            dropped.Dispose();
        }
    }

    public void Dispose()
    {
        List<DecoderSession> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _recent.Select(n => n.Session)];
            _recent.Clear();
            _byId.Clear();
        }

        foreach (var session in all)
        {
            session.Dispose();
        }
    }
}
