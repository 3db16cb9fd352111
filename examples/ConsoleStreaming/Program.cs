// Streams Shakespeare-like text from the embedded model, token by token, without dependency injection.
// Run: dotnet run --project examples/ConsoleStreaming -- "JULIET:"
using OnnxGpt.Generation;

var prompt = args.Length > 0 ? args[0] : "ROMEO:";
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

// A relative path is found beside the executable, where the project copies the model.
using var model = GptModel.Load("models/tiny-shakespeare");
var gpt = GptGenerator.Create(model);

Console.Write(prompt);
try
{
    await foreach (var token in gpt.StreamAsync(prompt, new GenerationOptions { MaxNewTokens = 64 }, cts.Token))
    {
        Console.Write(token.Text);
        if (token.Result is { } result)
        {
            Console.WriteLine();
            Console.WriteLine($"[{result.GeneratedTokenCount} tokens, {result.FinishReason}, {result.TokensPerSecond:F0} tokens/s on {result.ExecutionProvider}]");
        }
    }
}
catch (OperationCanceledException)
{
    Console.WriteLine();
    Console.WriteLine("[cancelled]");
}
