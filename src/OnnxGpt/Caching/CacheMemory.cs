using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace OnnxGpt.Caching;

/// <summary>
/// Where a model's KV cache lives: host memory on the CPU, device memory on CUDA (allocated through the session's
/// CUDA allocator), so that <c>present</c> becomes the next <c>past</c> without a round trip through the host.
/// Token ids, positions and the mask stay on the host (a few bytes a step), and ONNX Runtime copies only the
/// last position's logits back.
/// </summary>
internal sealed unsafe class CacheMemory : IDisposable
{
    private const nuint Alignment = 64;

    private readonly OrtMemoryInfo? _deviceInfo;
    private readonly OrtAllocator? _allocator;
    private readonly Dictionary<IntPtr, OrtMemoryAllocation> _allocations = [];
    private readonly Lock _gate = new();

    private CacheMemory(OrtMemoryInfo? deviceInfo, OrtAllocator? allocator)
    {
        _deviceInfo = deviceInfo;
        _allocator = allocator;
        IsHost = deviceInfo is null;
        Description = deviceInfo is null ? "host" : $"{deviceInfo.Name} device {deviceInfo.Id}";
        InfoHandle = (deviceInfo ?? OrtMemoryInfo.DefaultInstance).DangerousGetHandle();
    }

    /// <summary>The OrtMemoryInfo handle cache tensors are created with.</summary>
    public IntPtr InfoHandle { get; }

    /// <summary>Where the buffers live, for people: <c>host</c>, or the device (<c>Cuda device 0</c>).</summary>
    public string Description { get; }

    /// <summary>Whether the buffers are host memory that managed code may read and copy.</summary>
    public bool IsHost { get; }

    /// <summary>Host memory, for the CPU (and for providers whose device memory OnnxGpt does not manage).</summary>
    public static CacheMemory Host() => new(null, null);

    /// <summary>Device memory of CUDA device <paramref name="deviceId"/>, from <paramref name="session"/>'s allocator.</summary>
    public static CacheMemory Cuda(InferenceSession session, int deviceId)
    {
        var info = new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default);
        try
        {
            return new CacheMemory(info, new OrtAllocator(session, info));
        }
        catch
        {
            info.Dispose();
            throw;
        }
    }

    /// <summary>
    /// For tests: host buffers that ONNX Runtime is told live on <paramref name="info"/>'s device, so that the
    /// device-memory code paths (and ONNX Runtime's answer to memory it cannot use) run on a machine without a GPU.
    /// </summary>
    internal static CacheMemory HostBuffersLabelled(OrtMemoryInfo info) => new(info, null);

    public void* Allocate(nuint bytes)
    {
        bytes = Math.Max(bytes, Alignment);
        if (_allocator is null)
        {
            return NativeMemory.AlignedAlloc(bytes, Alignment);
        }

        lock (_gate)
        {
            var allocation = _allocator.Allocate((uint)bytes);
            var pointer = allocation.DangerousGetHandle();
            _allocations[pointer] = allocation;
            return (void*)pointer;
        }
    }

    public void Free(void* buffer)
    {
        if (_allocator is null)
        {
            NativeMemory.AlignedFree(buffer);
            return;
        }

        lock (_gate)
        {
            if (_allocations.Remove((IntPtr)buffer, out var allocation))
            {
                allocation.Dispose();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            foreach (var allocation in _allocations.Values)
            {
                allocation.Dispose();
            }

            _allocations.Clear();
        }

        _allocator?.Dispose();
        _deviceInfo?.Dispose();
    }
}
