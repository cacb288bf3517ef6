using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;

namespace StockGrains.Server.Http;

/// <summary>
/// Reads a JSON request body strictly: only <c>application/json</c>, at most <see cref="MaxBytes"/>, no unknown
/// members, numbers only as JSON numbers. Anything else is a problem document and the handler never runs, so bad
/// input changes nothing.
/// </summary>
public static class JsonBody
{
    /// <summary>The largest request body accepted. An order of 100 lines fits many times over.</summary>
    public const int MaxBytes = 64 * 1024;

    public static readonly JsonSerializerOptions Options = CreateOptions();

    public static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            NumberHandling = JsonNumberHandling.Strict,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false));
        return options;
    }

    public static async Task<(T? Value, ProblemHttpResult? Problem)> ReadAsync<T>(HttpRequest request)
        where T : class
    {
        if (!request.HasJsonContentType())
        {
            return (null, Problems.Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
                "The body must be application/json.", $"Content-Type was '{request.ContentType}'."));
        }

        if (request.ContentLength > MaxBytes)
        {
            return (null, TooLarge());
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBytes)
            {
                return (null, TooLarge());
            }

            buffer.Write(chunk, 0, read);
        }

        try
        {
            var value = JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), Options);
            return value is null ? (null, Problems.Validation("$", "The body must be a JSON object.")) : (value, null);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "$" : ex.Path.TrimStart('$', '.');
            return (null, Problems.Validation(field, Describe(ex)));
        }
    }

    private static string Describe(JsonException ex) =>
        ex.Message.Contains("could not be mapped", StringComparison.Ordinal)
            ? "Unknown member: the request may only carry the documented fields."
            : ex.Message.Contains("could not be converted", StringComparison.Ordinal)
                ? "The value has the wrong type (quantities are whole JSON numbers, ids are strings)."
                : "The body is not valid JSON.";

    private static ProblemHttpResult TooLarge() =>
        Problems.Problem(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "The body is too large.", $"At most {MaxBytes} bytes.");
}
