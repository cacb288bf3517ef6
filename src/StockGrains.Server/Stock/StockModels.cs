using StockGrains.Grains.Storage;
using StockGrains.Stock;

namespace StockGrains.Server.Stock;

/// <summary>A stock line as the API shows it. <c>available = onHand − reserved − safetyStock</c>.</summary>
public sealed record StockLineResponse(
    string Warehouse, string Sku, long OnHand, long Reserved, long Committed, long SafetyStock, long Available, long Sequence, string NegativeStock)
{
    public static StockLineResponse From(StockLineView v) =>
        new(v.Warehouse, v.Sku, v.OnHand, v.Reserved, v.Committed, v.SafetyStock, v.Available, v.Sequence, LedgerFormat.Policy(v.NegativeStock));
}

public sealed record ReceiptRequest(long? Quantity, string? Unit, string? Reference);

public sealed record PolicyRequest(string? NegativeStock, long? SafetyStock);

public sealed record LedgerEntryResponse(
    long Sequence,
    string Kind,
    long Quantity,
    string? Reason,
    string? ReservationId,
    string OperationId,
    string Actor,
    string? Reference,
    DateTimeOffset At,
    long OnHandAfter,
    long ReservedAfter,
    long CommittedAfter,
    long SafetyStockAfter,
    DateTimeOffset? ExpiresAt)
{
    public static LedgerEntryResponse From(LedgerEntry e) =>
        new(e.Sequence, LedgerFormat.Kind(e.Kind), e.Quantity, e.Reason, e.ReservationId, e.OperationId, e.Actor, e.Reference, e.At,
            e.OnHandAfter, e.ReservedAfter, e.CommittedAfter, e.SafetyStockAfter, e.ExpiresAt);
}

public sealed record LedgerResponse(IReadOnlyList<LedgerEntryResponse> Entries);
