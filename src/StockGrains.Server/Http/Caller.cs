namespace StockGrains.Server.Http;

/// <summary>Who is asking and which operation id they use, from the request headers.</summary>
public static class Caller
{
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>
    /// The actor recorded on ledger entries: the authenticated client's name. It is never taken from a header the
    /// caller could set freely.
    /// </summary>
    public static string Actor(HttpRequest request) =>
        request.HttpContext.User.Identity is { IsAuthenticated: true, Name: { Length: > 0 } name } ? name : "anonymous";

    /// <summary>
    /// The operation id of a mutating request: the <c>Idempotency-Key</c> header, or a fresh id when there is none
    /// (such a request is applied once per call; only a key makes a retry safe).
    /// </summary>
    public static string OperationId(HttpRequest request, Validate validate) => IdempotencyKey(request, validate) ?? $"op-{Guid.NewGuid():N}";

    /// <summary>The request's <c>Idempotency-Key</c> header, checked as an id; null when it has none.</summary>
    public static string? IdempotencyKey(HttpRequest request, Validate validate)
    {
        var key = request.Headers[IdempotencyHeader].ToString();
        if (key.Length == 0)
        {
            return null;
        }

        validate.Id(IdempotencyHeader, key);
        return key;
    }

    /// <summary>The answer to a request whose idempotency key was used with a different one.</summary>
    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult KeyReused() =>
        Problems.Problem(StatusCodes.Status422UnprocessableEntity, "idempotency_key_reused", "This Idempotency-Key was used with a different request.",
            "Use a new key for a new request; nothing was changed.");
}
