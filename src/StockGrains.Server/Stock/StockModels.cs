using StockGrains.Grains.Stock;
using StockGrains.Grains.Storage;
using StockGrains.Stock;

namespace StockGrains.Server.Stock;

/// <summary>A stock line as the API shows it. <c>available = onHand − reserved − safetyStock</c>.</summary>
public sealed record StockLineResponse(
    string Warehouse,
    string Sku,
    long OnHand,
    long Reserved,
    long Committed,
    long SafetyStock,
    long Available,
    long Sequence,
    string NegativeStock,
    long Backordered,
    int PendingApprovals,
    long? AlertCause)
{
    public static StockLineResponse From(StockLineView v) =>
        new(v.Warehouse, v.Sku, v.OnHand, v.Reserved, v.Committed, v.SafetyStock, v.Available, v.Sequence, LedgerFormat.Policy(v.NegativeStock),
            v.Backordered, v.PendingApprovals, v.AlertCause);
}

public sealed record ReceiptRequest(long? Quantity, string? Unit, string? Reference);

public sealed record PolicyRequest(string? NegativeStock, long? SafetyStock);

public sealed record AdjustmentRequest(long? QuantityDelta, string? Unit, string? Reason, string? Note, string? Reference);

public sealed record CountRequest(long? CountedQuantity, string? Unit, long? CountStartedAtSequence, string? Note);

public sealed record ReturnRequest(long? Quantity, string? Unit, string? Reason, string? Reference, string? Note);

public sealed record ResolveRequest(string? Note);

public sealed record ApprovalResponse(
    string ApprovalId, string Warehouse, string Sku, string Kind, long QuantityDelta, string? Reason, string RequestedBy,
    DateTimeOffset RequestedAt, long Sequence, string? Note, long? CountedQuantity)
{
    public static ApprovalResponse From(ApprovalView a) =>
        new(a.ApprovalId, a.Warehouse, a.Sku, a.Kind == LedgerEntryKind.Counted ? "count" : "adjustment", a.QuantityDelta, a.Reason,
            a.RequestedBy, a.RequestedAt, a.Sequence, a.Note, a.CountedQuantity);
}

/// <summary>What a 202 says: the change waits for a second person; the line is unchanged.</summary>
public sealed record PendingApprovalResponse(string Status, ApprovalResponse Approval, StockLineResponse Line);

public sealed record ResolvedApprovalResponse(string Status, ApprovalResponse Approval, StockLineResponse Line);

public sealed record CountResponse(long CountedQuantity, long Variance, long? CountStartedAtSequence, StockLineResponse Line);

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
    DateTimeOffset? ExpiresAt,
    string? Note,
    string? Unit,
    long? UnitQuantity,
    long? CountedQuantity,
    long? CountStartedAtSequence,
    string? Counterparty,
    string? ApprovalId,
    long? AlertCauseAfter)
{
    public static LedgerEntryResponse From(LedgerEntry e) =>
        new(e.Sequence, LedgerFormat.Kind(e.Kind), e.Quantity, e.Reason, e.ReservationId, e.OperationId, e.Actor, e.Reference, e.At,
            e.OnHandAfter, e.ReservedAfter, e.CommittedAfter, e.SafetyStockAfter, e.ExpiresAt, e.Note, e.Unit, e.UnitQuantity,
            e.CountedQuantity, e.CountStartedAtSequence, e.Counterparty, e.ApprovalId, e.AlertCauseAfter);
}

public sealed record LedgerResponse(IReadOnlyList<LedgerEntryResponse> Entries);

public sealed record ApprovalsResponse(IReadOnlyList<ApprovalResponse> Approvals);

public static class AdjustmentReasons
{
    public static bool TryParse(string? text, out AdjustmentReason reason)
    {
        foreach (var candidate in Enum.GetValues<AdjustmentReason>())
        {
            if (StockLineRules.AdjustmentReasonText(candidate) == text)
            {
                reason = candidate;
                return true;
            }
        }

        reason = default;
        return false;
    }
}
