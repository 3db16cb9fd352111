namespace OnnxGpt.Generation;

/// <summary>
/// The one conversation cache policy: what recent conversations (<see cref="GenerationOptions.ConversationId"/>) keep
/// for their next turn (a KV cache: OnnxGpt's decoder session, or another backend's sequence; the chat client's
/// messages), at most <see cref="GptOptions.MaxKeptConversations"/> of them, least recently used evicted first
/// (0 keeps none). A request takes its conversation's cache out while it runs (<see cref="Take"/>), so two requests
/// never share one; immutable states are read in place (<see cref="Peek"/>). Evicted, replaced and remaining states
/// that are <see cref="IDisposable"/> are disposed.
/// </summary>
/// <typeparam name="T">The state kept per conversation, owned by the store while kept.</typeparam>
internal sealed class ConversationStore<T> : IDisposable
    where T : class
{
    private readonly Lock _gate = new();
    private readonly LinkedList<(string Id, T State)> _recent = new();
    private readonly Dictionary<string, LinkedListNode<(string Id, T State)>> _byId = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>Creates a store that keeps at most <paramref name="capacity"/> conversations (0: none).</summary>
    /// <param name="capacity">The most conversations kept.</param>
    public ConversationStore(int capacity) => Capacity = capacity;

    /// <summary>The most conversations kept.</summary>
    public int Capacity { get; }

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

    /// <summary>Takes the conversation's kept state out of the store, or null.</summary>
    /// <param name="id">The conversation.</param>
    public T? Take(string id)
    {
        lock (_gate)
        {
            if (!_byId.Remove(id, out var node))
            {
                return null;
            }

            _recent.Remove(node);
            return node.Value.State;
        }
    }

    /// <summary>The conversation's kept state, left in the store and made the most recently used, or null (for immutable states).</summary>
    /// <param name="id">The conversation.</param>
    public T? Peek(string id)
    {
        lock (_gate)
        {
            if (!_byId.TryGetValue(id, out var node))
            {
                return null;
            }

            _recent.Remove(node);
            _recent.AddFirst(node);
            return node.Value.State;
        }
    }

    /// <summary>Keeps a state for the conversation's next turn, evicting the least recently used beyond capacity.</summary>
    /// <param name="id">The conversation.</param>
    /// <param name="state">The state, now owned by the store (disposed at once when the store is disposed or keeps none).</param>
    public void Put(string id, T state)
    {
        var evicted = new List<T>();
        lock (_gate)
        {
            if (_disposed || Capacity == 0)
            {
                evicted.Add(state);
            }
            else
            {
                if (_byId.Remove(id, out var old))
                {
                    _recent.Remove(old);
                    evicted.Add(old.Value.State);
                }

                _byId[id] = _recent.AddFirst((id, state));
                while (_byId.Count > Capacity)
                {
                    var last = _recent.Last!;
                    _recent.RemoveLast();
                    _byId.Remove(last.Value.Id);
                    evicted.Add(last.Value.State);
                }
            }
        }

        foreach (var dropped in evicted)
        {
            (dropped as IDisposable)?.Dispose();
        }
    }

    /// <summary>Disposes every kept state; later <see cref="Put"/> calls dispose what they are given.</summary>
    public void Dispose()
    {
        List<T> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _recent.Select(n => n.State)];
            _recent.Clear();
            _byId.Clear();
        }

        foreach (var state in all)
        {
            (state as IDisposable)?.Dispose();
        }
    }
}
