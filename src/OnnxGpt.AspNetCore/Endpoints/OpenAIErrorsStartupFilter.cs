using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace OnnxGpt.AspNetCore;

/// <summary>Puts <c>UseOpenAIErrors</c> around the whole pipeline, host filtering included.</summary>
internal sealed class OpenAIErrorsStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.UseOpenAIErrors();
        next(app);
    };
}
