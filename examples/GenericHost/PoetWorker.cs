using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;

namespace GenericHost;

/// <summary>A hosted service that takes the chat client from dependency injection (local or remote) and streams one verse.</summary>
internal sealed class PoetWorker(IChatClient chat, IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            ChatFinishReason? finish = null;
            await foreach (var update in chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "JULIET:")], new ChatOptions { MaxOutputTokens = 64 }, stoppingToken))
            {
                Console.Write(update.Text);
                finish = update.FinishReason ?? finish;
            }

            Console.WriteLine();
            Console.WriteLine($"[{finish}]");
        }
        finally
        {
            lifetime.StopApplication();
        }
    }
}
