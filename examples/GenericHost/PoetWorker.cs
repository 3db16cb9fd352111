using Microsoft.Extensions.Hosting;
using OnnxGpt.Generation;

namespace GenericHost;

/// <summary>A hosted service that takes the generator from dependency injection and streams one verse.</summary>
internal sealed class PoetWorker(IGptGenerator gpt, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            Console.Write("JULIET:");
            await foreach (var token in gpt.StreamAsync("JULIET:", cancellationToken: stoppingToken))
            {
                Console.Write(token.Text);
                if (token.Result is { } result)
                {
                    Console.WriteLine();
                    Console.WriteLine($"[{result.FinishReason} after {result.GeneratedTokenCount} tokens on {result.ExecutionProvider}]");
                }
            }
        }
        finally
        {
            lifetime.StopApplication();
        }
    }
}
