using System.Runtime.CompilerServices;

namespace OnnxGpt.Generation;

/// <summary>
/// An awaitable that moves the rest of an async method to the thread pool when the caller has a
/// synchronization context (a UI thread), and completes at once otherwise, so that servers and console
/// apps pay nothing per token.
/// </summary>
internal readonly struct ThreadPoolSwitch : ICriticalNotifyCompletion
{
    public static ThreadPoolSwitch IfNeeded() => default;

    public bool IsCompleted => SynchronizationContext.Current is null && TaskScheduler.Current == TaskScheduler.Default;

    public ThreadPoolSwitch GetAwaiter() => this;

    public void GetResult()
    {
    }

    public void OnCompleted(Action continuation) => ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

    public void UnsafeOnCompleted(Action continuation) => ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
}
