using OnnxGpt.Generation;

namespace OnnxGpt.Tests.Generation;

/// <summary>The one conversation cache policy: at most its capacity kept, least recently used evicted first, 0 keeps none.</summary>
[TestFixture]
public sealed class ConversationStoreTests
{
    private sealed class State(string name, List<string> disposed) : IDisposable
    {
        public string Name => name;

        public void Dispose() => disposed.Add(name);
    }

    [Test]
    public void The_least_recently_used_is_evicted_and_a_peek_or_a_put_makes_it_recent()
    {
        var disposed = new List<string>();
        using var store = new ConversationStore<State>(2);

        store.Put("a", new State("a", disposed));
        store.Put("b", new State("b", disposed));
        var peeked = store.Peek("a");
        store.Put("c", new State("c", disposed));   // b is the least recently used
        store.Put("a", new State("a2", disposed));  // replaces a
        store.Put("d", new State("d", disposed));   // c is now the least recently used

        Assert.Multiple(() =>
        {
            Assert.That(peeked?.Name, Is.EqualTo("a"));
            Assert.That(disposed, Is.EqualTo(new[] { "b", "a", "c" }));
            Assert.That(store.Count, Is.EqualTo(2));
            Assert.That(store.Peek("b"), Is.Null);
            Assert.That(store.Take("a")?.Name, Is.EqualTo("a2"));
            Assert.That(store.Take("a"), Is.Null, "taken out");
            Assert.That(store.Peek("d")?.Name, Is.EqualTo("d"));
        });
    }

    [Test]
    public void Capacity_0_keeps_none_and_disposes_what_it_is_given()
    {
        var disposed = new List<string>();
        using var store = new ConversationStore<State>(0);

        store.Put("a", new State("a", disposed));

        Assert.Multiple(() =>
        {
            Assert.That(store.Count, Is.Zero);
            Assert.That(store.Peek("a"), Is.Null);
            Assert.That(disposed, Is.EqualTo(new[] { "a" }));
        });
    }

    [Test]
    public void Disposing_disposes_the_kept_states_and_leaves_plain_values_alone()
    {
        var disposed = new List<string>();
        var store = new ConversationStore<State>(4);
        store.Put("a", new State("a", disposed));
        store.Put("b", new State("b", disposed));
        using var values = new ConversationStore<string[]>(1);
        values.Put("x", ["one"]);
        values.Put("y", ["two"]);

        store.Dispose();
        store.Put("c", new State("c", disposed));

        Assert.Multiple(() =>
        {
            Assert.That(disposed, Is.EquivalentTo(new[] { "a", "b", "c" }));
            Assert.That(store.Count, Is.Zero);
            Assert.That(values.Peek("x"), Is.Null);
            Assert.That(values.Peek("y"), Is.EqualTo(new[] { "two" }));
        });
    }
}
