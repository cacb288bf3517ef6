using Microsoft.AspNetCore.Http.HttpResults;

namespace StockGrains.Server.Http;

/// <summary>
/// Every error the API returns: an RFC 9457 problem document with a stable machine-readable <c>code</c>. Clients
/// switch on the code; the title and detail are for people and may change.
/// </summary>
public static class Problems
{
    public static ProblemHttpResult Problem(int status, string code, string title, string? detail = null, IDictionary<string, object?>? extensions = null)
    {
        var ext = new Dictionary<string, object?> { ["code"] = code };
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                ext[key] = value;
            }
        }

        return TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: ext);
    }

    public static ProblemHttpResult Validation(IDictionary<string, string[]> errors) =>
        Problem(StatusCodes.Status400BadRequest, "validation_failed", "The request is not valid.",
            "See 'errors' for each field; nothing was changed.", new Dictionary<string, object?> { ["errors"] = errors });

    public static ProblemHttpResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ProblemHttpResult Unavailable(string detail) =>
        Problem(StatusCodes.Status503ServiceUnavailable, "line_unavailable", "The stock line is reloading.", detail);
}
