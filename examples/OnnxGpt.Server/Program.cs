// An OpenAI-compatible HTTP server over OnnxGpt, in a few lines over OnnxGpt.AspNetCore: POST /v1/chat/completions
// (tools, response_format) and /v1/completions (streamed as server-sent events with "stream": true), GET /v1/models,
// /v1/models/{id} and /health. AddGpt is bound from appsettings.json (the embedded tiny-shakespeare model, at most 4
// generations at once and 16 waiting; one more gets a 429), the endpoints from its "OpenAI" section.
// Diagnostics: --Server:TokenDelay=00:00:00.1 waits that long before each token after the first, so that a generation
// on the tiny model lasts long enough to watch (the server tests disconnect from one mid-stream).
// Run: dotnet run --project examples/OnnxGpt.Server [-- --urls http://127.0.0.1:5180]   (loopback by default)
using Microsoft.Extensions.Options;
using OnnxGpt.AspNetCore;
using OnnxGpt.Chat;
using OnnxGpt;
using OnnxGpt.Generation;
using OnnxGpt.Server;

// appsettings.json and the model are read from the app's folder, whatever the current folder (dotnet run, the root).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
// 127.0.0.1:5180 unless --urls / ASPNETCORE_URLS; AllowedHosts = those hosts; every error in OpenAI's error body.
builder.ConfigureOpenAIServer();
builder.Services.AddGpt(builder.Configuration.GetSection("Gpt"));
builder.Services.PostConfigure<GptOptions>(o => o.ModelPath = string.IsNullOrWhiteSpace(o.ModelPath) ? o.ModelPath : Path.GetFullPath(o.ModelPath, builder.Environment.ContentRootPath));
builder.Services.Configure<GptChatClientOptions>(builder.Configuration.GetSection("Chat"));
if (builder.Configuration.GetValue<TimeSpan?>("Server:TokenDelay") is { } tokenDelay && tokenDelay > TimeSpan.Zero)
{
    // Wrap AddGpt's generator; the chat client is built over whatever IGptGenerator is registered.
    var registered = builder.Services.Last(d => d.ServiceType == typeof(IGptGenerator) && !d.IsKeyedService);
    builder.Services.Remove(registered);
    builder.Services.AddSingleton<IGptGenerator>(sp => new PacedGenerator((IGptGenerator)registered.ImplementationFactory!(sp), tokenDelay));
}

var app = builder.Build();

// The model loads here, before listening, so /health answers only once requests can be served; a configuration or
// model folder problem is one line that says what to fix.
try
{
    app.MapOpenAIEndpoints(builder.Configuration.GetSection("OpenAI").Get<OpenAIEndpointOptions>());
}
catch (Exception ex) when (ex is OptionsValidationException or ModelLoadException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}

app.Run();
return 0;
