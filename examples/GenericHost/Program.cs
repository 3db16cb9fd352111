// A Generic Host app: AddGpt bound from appsettings.json ("Gpt" section), validated at start.
// Run: dotnet run --project examples/GenericHost
using GenericHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddGpt(builder.Configuration.GetSection("Gpt"));
builder.Services.AddHostedService<PoetWorker>();
await builder.Build().RunAsync();
