using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OnnxGpt.AspNetCore;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Hosting defaults for an OpenAI-compatible server on OnnxGpt.</summary>
public static class OpenAIServerBuilderExtensions
{
    /// <summary>
    /// Applies a server's safe defaults: it listens on <paramref name="defaultUrls"/> (loopback) unless <c>--urls</c>,
    /// <c>ASPNETCORE_URLS</c> or another <c>urls</c> setting says otherwise; <c>AllowedHosts</c>, unless configured,
    /// is the host names it listens on (loopback also as <c>localhost</c>; a wildcard address allows any host).
    /// No CORS policy is added: browsers on other origins are refused unless the application configures CORS.
    /// <c>UseOpenAIErrors</c> wraps the whole pipeline (host filtering included), so every error is OpenAI's error body;
    /// Kestrel's header limit is raised to 64 KiB so that headers past 32 KiB get that body's 431 rather than a bare one.
    /// </summary>
    /// <param name="builder">The web application's builder, before <c>Build()</c>.</param>
    /// <param name="defaultUrls">The addresses to listen on when none are configured, separated by <c>;</c>.</param>
    /// <returns><paramref name="builder"/>.</returns>
    public static WebApplicationBuilder ConfigureOpenAIServer(this WebApplicationBuilder builder, string defaultUrls = "http://127.0.0.1:5180")
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(defaultUrls);
        var configured = builder.Configuration[WebHostDefaults.ServerUrlsKey];
        var urls = string.IsNullOrWhiteSpace(configured) ? defaultUrls : configured;
        if (string.IsNullOrWhiteSpace(configured) && string.IsNullOrWhiteSpace(builder.Configuration["http_ports"]) && string.IsNullOrWhiteSpace(builder.Configuration["https_ports"]))
        {
            builder.WebHost.UseUrls(defaultUrls);
        }

        if (string.IsNullOrWhiteSpace(builder.Configuration["AllowedHosts"]))
        {
            builder.Configuration["AllowedHosts"] = AllowedHosts(urls);
        }

        builder.Services.Configure<HostFilteringOptions>(o => o.IncludeFailureMessage = false);   // UseOpenAIErrors writes the body
        builder.Services.Configure<KestrelServerOptions>(o => o.Limits.MaxRequestHeadersTotalSize = Math.Max(o.Limits.MaxRequestHeadersTotalSize, 2 * OpenAIServerExtensions.MaxRequestHeadersBytes));
        // Startup filters wrap in registration order, the first outermost: before the host's own (host filtering).
        builder.Services.Insert(0, ServiceDescriptor.Transient<IStartupFilter, OpenAIErrorsStartupFilter>());

        return builder;
    }

    private static string AllowedHosts(string urls)
    {
        var hosts = new List<string>();
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var start = url.IndexOf("://", StringComparison.Ordinal);
            var rest = start < 0 ? url : url[(start + 3)..];
            var host = rest.StartsWith('[') ? rest[..(rest.IndexOf(']', StringComparison.Ordinal) + 1)] : rest.Split(':', '/')[0];
            if (host is "*" or "+" or "0.0.0.0" or "[::]" or "")
            {
                return "*";
            }

            hosts.Add(host);
            if (host is "127.0.0.1" or "[::1]")
            {
                hosts.Add("localhost");
            }
        }

        return string.Join(';', hosts.Distinct(StringComparer.OrdinalIgnoreCase));
    }
}
