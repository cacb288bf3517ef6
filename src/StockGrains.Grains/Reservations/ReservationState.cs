using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.TradePolicies;

namespace StockGrains.Grains.Reservations;

/// <summary>
/// The stored state of an order reservation: the request, and every line hold attempted for it, each written before
/// the line is asked. An interrupted placement resumes from exactly this progress. Its JSON shape is a persisted
/// format, guarded by a golden-file test.
/// </summary>
public sealed class ReservationState
{
    public const int CurrentFormatVersion = 2;

    public int FormatVersion { get; set; } = CurrentFormatVersion;

    public string Fingerprint { get; set; } = "";

    public ReservationStatus Status { get; set; }

    public DateTimeOffset PlacedAt { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public string Actor { get; set; } = "";

    public string? TradePolicy { get; set; }

    /// <summary>The policy's warehouses and strategy as they were when the order was placed.</summary>
    public List<string> PolicyWarehouses { get; set; } = [];

    public AllocationStrategy Allocation { get; set; }

    public List<ReservationLineRequest> Requested { get; set; } = [];

    public List<LineAttempt> Attempts { get; set; } = [];

    public List<ShortLine> ShortLines { get; set; } = [];

    /// <summary>The lines the reservation holds: the attempts the lines accepted.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IEnumerable<LineAttempt> Held => Attempts.Where(a => a.Outcome == AttemptOutcome.Held);
}

public enum AttemptOutcome
{
    /// <summary>Written, and the line may or may not have been asked: asking again is safe.</summary>
    Unknown = 0,
    Held = 1,
    Refused = 2,
}

/// <summary>One hold asked of one line for this order. The order's reservation id is the hold id on the line.</summary>
public sealed class LineAttempt
{
    public string Sku { get; set; } = "";

    public string Warehouse { get; set; } = "";

    public long Quantity { get; set; }

    public EnteredQuantity? Entered { get; set; }

    /// <summary>Chosen by the trade policy rather than named by the caller.</summary>
    public bool Allocated { get; set; }

    public AttemptOutcome Outcome { get; set; }

    /// <summary>What the line had available when it refused.</summary>
    public long Available { get; set; }

    /// <summary>Why the line refused when it was not for lack of stock (<c>hold_limit</c>); null otherwise.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? RefusalReason { get; set; }
}
