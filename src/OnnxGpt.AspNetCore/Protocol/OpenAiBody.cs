using System.Buffers;
using System.Text.Json;
using System.Text.Unicode;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace OnnxGpt.AspNetCore;

/// <summary>
/// Reads a request's JSON body within the server's limits: JSON content type (415), at most a given size (413, by
/// <c>Content-Length</c> before reading anything, or as soon as a chunked body passes it), valid UTF-8 with no lone
/// surrogates in its strings (400), nested at most so deep (400).
/// </summary>
internal static class OpenAiBody
{
    public static async Task<JsonElement> ReadAsync(HttpRequest request, long limit, int maxDepth, CancellationToken cancellationToken)
    {
        if (!IsJson(request.ContentType))
        {
            throw OpenAiError.UnsupportedMediaType();
        }

        if (request.ContentLength is { } length && length > limit)
        {
            throw OpenAiError.TooLarge(limit);
        }

        // Kestrel stops a body at the limit too (and answers 413 for what is left unread).
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
        {
            size.MaxRequestBodySize = limit;
        }

        var buffer = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, limit) + 1);
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(4096);
                var read = await request.Body.ReadAsync(memory, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    throw OpenAiError.TooLarge(limit);
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw OpenAiError.TooLarge(limit);
        }
        catch (BadHttpRequestException ex)
        {
            throw OpenAiError.ForStatus(ex.StatusCode, request.Path, request.Method);
        }

        var bytes = buffer.WrittenMemory;
        if (!Utf8.IsValid(bytes.Span))
        {
            throw OpenAiError.BadRequest("The request body is not valid UTF-8.", null, "invalid_encoding");
        }

        try
        {
            using var document = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = maxDepth });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw OpenAiError.BadRequest("The request body must be a JSON object.");
            }

            CheckStrings(document.RootElement);
            return document.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw OpenAiError.BadRequest($"We could not parse the JSON body of your request: {ex.Message}", null, "invalid_json");
        }
    }

    public static bool IsJson(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var type)
        && type.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
        && (type.Charset.Length == 0 || type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    // Escapes such as "\ud800" decode to lone surrogates, which no text can hold: refused like invalid UTF-8.
    private static void CheckStrings(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    CheckText(property.Name);
                    CheckStrings(property.Value);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CheckStrings(item);
                }

                break;
            case JsonValueKind.String:
                string text;
                try
                {
                    text = element.GetString()!;
                }
                catch (InvalidOperationException)
                {
                    throw LoneSurrogate();
                }

                CheckText(text);
                break;
        }
    }

    private static void CheckText(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                throw LoneSurrogate();
            }
        }
    }

    private static OpenAiError LoneSurrogate() =>
        OpenAiError.BadRequest("The request body holds a string with an unpaired surrogate escape (such as \\ud800), which is not text.", null, "invalid_encoding");
}
