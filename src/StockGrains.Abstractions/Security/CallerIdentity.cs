using Orleans.Runtime;

namespace StockGrains.Security;

/// <summary>What an authenticated client may do. A client holds one or more roles.</summary>
[Flags]
[GenerateSerializer, Alias("sg.Roles")]
public enum Roles
{
    None = 0,

    /// <summary>Reserve, commit, ship and release its own reservations; read availability.</summary>
    Checkout = 1,

    /// <summary>Receipts, adjustments, counts, returns, transfers and approvals, in its own warehouses.</summary>
    Operator = 2,

    /// <summary>Read ledgers, alerts, approvals and reports.</summary>
    Auditor = 4,

    /// <summary>Line policies, SKUs and trade policies.</summary>
    Admin = 8,
}

/// <summary>
/// Who is calling, as the HTTP tier authenticated them. It travels with every grain call made for the request (in
/// the Orleans request context), so the grains re-check what the HTTP tier checked: a bug or a forgotten check at the
/// edge cannot let an operator of one warehouse change another, or one checkout client touch another's order.
/// Calls with no identity come from inside the cluster (timers, reminders, trusted Orleans clients).
/// It is immutable, and marked so: every grain call of a request carries it, and a call inside a silo would otherwise
/// deep-copy it, warehouses and all, each time.
/// </summary>
[GenerateSerializer, Immutable, Alias("sg.CallerIdentity")]
public sealed record CallerIdentity(
    [property: Id(0)] string Client,
    [property: Id(1)] Roles Roles,
    [property: Id(2)] IReadOnlyList<string> Warehouses)
{
    /// <summary>
    /// The most pending holds this client may keep on one stock line (null: no cap). The line counts them from its
    /// durable holds, so the cap holds across silos and restarts.
    /// </summary>
    [Id(3)]
    public int? MaxPendingHoldsPerLine { get; init; }

    /// <summary>The most base units one reservation line of this client may ask for (null: no cap beyond the API's).</summary>
    [Id(4)]
    public long? MaxQuantityPerLine { get; init; }

    /// <summary>The longest hold this client may ask for, in seconds (null: the server's maximum).</summary>
    [Id(5)]
    public int? MaxHoldSeconds { get; init; }

    /// <summary>The key under which the identity travels in the request context.</summary>
    public const string ContextKey = "sg.caller";

    /// <summary>A warehouse scope that covers every warehouse.</summary>
    public const string AllWarehouses = "*";

    public bool Has(Roles role) => (Roles & role) == role;

    public bool CoversWarehouse(string warehouse) =>
        Warehouses.Contains(AllWarehouses) || Warehouses.Contains(warehouse, StringComparer.Ordinal);

    /// <summary>May operate (receive, adjust, count, transfer, approve) in this warehouse.</summary>
    public bool CanOperate(string warehouse) => Has(Roles.Operator) && CoversWarehouse(warehouse);

    /// <summary>The identity of the current call, or null inside the cluster.</summary>
    public static CallerIdentity? Current => RequestContext.Get(ContextKey) as CallerIdentity;
}

/// <summary>A grain refused a caller that the HTTP tier should already have refused; the change was not made.</summary>
[GenerateSerializer, Alias("sg.AccessDeniedException")]
public sealed class AccessDeniedException : Exception
{
    public AccessDeniedException(string message) : base(message)
    {
    }
}
