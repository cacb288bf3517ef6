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
    public static string OperationId(HttpRequest request, Validate validate)
    {
        var key = request.Headers[IdempotencyHeader].ToString();
        if (key.Length == 0)
        {
            return $"op-{Guid.NewGuid():N}";
        }

        validate.Id(IdempotencyHeader, key);
        return key;
    }
}
