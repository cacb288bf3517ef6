namespace StockGrains.Server.Http;

/// <summary>Who is asking and which operation id they use, from the request headers.</summary>
public static class Caller
{
    public const string ActorHeader = "X-Actor";
    public const string IdempotencyHeader = "Idempotency-Key";

    /// <summary>
    /// The actor recorded on ledger entries. Until authentication lands it is the <c>X-Actor</c> header, or
    /// <c>anonymous</c>.
    /// </summary>
    public static string Actor(HttpRequest request, Validate validate)
    {
        var actor = request.Headers[ActorHeader].ToString();
        if (actor.Length == 0)
        {
            return "anonymous";
        }

        validate.Id(ActorHeader, actor);
        return actor;
    }

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
