// A Generic Host app: the chat client comes from configuration, the local model (AddGpt bound from the "Gpt" section
// of appsettings.json, validated at start) or, with Chat:Remote:Endpoint set, any OpenAI-compatible engine.
// Run: dotnet run --project examples/GenericHost
//      dotnet run --project examples/GenericHost -- --Chat:Remote:Endpoint=http://127.0.0.1:5180/v1 --Chat:Remote:Model=tiny-shakespeare
using GenericHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddChat(builder.Configuration);
builder.Services.AddHostedService<PoetWorker>();
await builder.Build().RunAsync();
