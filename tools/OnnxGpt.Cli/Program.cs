using OnnxGpt.Cli;

using var cancellation = new CancellationTokenSource();
using var outputClosed = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C stops the generation within one token; a second one ends the process at once.
    if (!cancellation.IsCancellationRequested)
    {
        e.Cancel = true;
        cancellation.Cancel();
    }
};

// stdout's reader leaving (| head) cancels the generation; a closed stderr only drops the diagnostics.
using var stdout = new GuardedWriter(StandardStream.Open(1), outputClosed.Cancel);
using var stderr = new GuardedWriter(StandardStream.Open(2));
using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation.Token, outputClosed.Token);
var console = new CliConsole(stdout, stderr, PipedInput(), outputClosed.Token);
return await CliApp.RunAsync(args, console, linked.Token);

// Standard input when it is a pipe or a file (a prompt can come from there), not when it is the terminal.
static TextReader? PipedInput()
{
    try
    {
        return Console.IsInputRedirected ? Console.In : null;
    }
    catch (IOException)
    {
        return null;
    }
}
