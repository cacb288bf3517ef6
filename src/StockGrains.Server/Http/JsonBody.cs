using System.Buffers;
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

    /// <summary>The first buffer for a body of undeclared length; it doubles, up to just past <see cref="MaxBytes"/>.</summary>
    private const int InitialBytes = 4 * 1024;

    public static readonly JsonSerializerOptions Options = CreateOptions();

    public static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            // The contract's members are camelCase, exactly: the web defaults would also take "Quantity" or
            // "QUANTITY", and silently fixing a name is what the API refuses to do for ids.
            PropertyNameCaseInsensitive = false,
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

        // The body is read into a pooled buffer, sized by the declared length when there is one. A new 8 KB chunk and a
        // growing stream for every request were about a tenth of all the bytes an order over HTTP allocated.
        var buffer = ArrayPool<byte>.Shared.Rent(request.ContentLength is { } declared ? (int)declared + 1 : InitialBytes);
        try
        {
            var filled = 0;
            while (true)
            {
                if (filled == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxBytes + 1));
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(filled), request.HttpContext.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                filled += read;
                if (filled > MaxBytes)
                {
                    return (null, TooLarge());
                }
            }

            var value = JsonSerializer.Deserialize<T>(buffer.AsSpan(0, filled), Options);
            return value is null ? (null, Problems.Validation("$", "The body must be a JSON object.")) : (value, null);
        }
        catch (JsonException ex)
        {
            var field = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "$" : ex.Path.TrimStart('$', '.');
            return (null, Problems.Validation(field, Describe(ex)));
        }
        finally
        {
            // Nothing read from the body outlives the call: the deserializer copies what it keeps.
            ArrayPool<byte>.Shared.Return(buffer);
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
