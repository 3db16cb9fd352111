// A Generic Host app: the chat client comes from configuration, the local model (AddGpt bound from the "Gpt" section
// of appsettings.json, validated at start) or, with Chat:Remote:Endpoint set, any OpenAI-compatible engine.
// Run (from any folder, the repository root included):
//      dotnet run --project examples/GenericHost
//      dotnet run --project examples/GenericHost -- --Chat:Remote:Endpoint=http://127.0.0.1:5180/v1 --Chat:Remote:Model=tiny-shakespeare
using GenericHost;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OnnxGpt;
using OnnxGpt.Generation;

// The content root is the app's own folder, where appsettings.json and the model were copied, not the current
// folder: `dotnet run --project` keeps the caller's.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Services.AddChat(builder.Configuration);
// A relative Gpt:ModelPath is relative to the content root too.
builder.Services.PostConfigure<GptOptions>(o => o.ModelPath = string.IsNullOrWhiteSpace(o.ModelPath) ? o.ModelPath : Path.GetFullPath(o.ModelPath, builder.Environment.ContentRootPath));
builder.Services.AddHostedService<PoetWorker>();

using var host = builder.Build();
try
{
    // Validate the options and load the model before starting, so a problem is one line that says what to fix
    // (the host would log it as a failure to start, stack trace included).
    host.Services.GetRequiredService<IChatClient>();
}
catch (Exception ex) when (ex is OptionsValidationException or ModelLoadException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}

await host.RunAsync();
return 0;
