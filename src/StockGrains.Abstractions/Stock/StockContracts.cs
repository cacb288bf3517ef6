namespace StockGrains.Stock;

/// <summary>What a line does when a reservation would take more than is available.</summary>
[GenerateSerializer, Alias("sg.NegativeStockPolicy")]
public enum NegativeStockPolicy
{
    /// <summary>Refuse the reservation: the default, and the only way to never oversell.</summary>
    Block = 0,

    /// <summary>Refuse reservations like <see cref="Block"/>; operator write-offs past zero wait for a second person.</summary>
    Approval = 1,

    /// <summary>Backorder: reservations may exceed on hand.</summary>
    Allow = 2,
}

/// <summary>The kinds of immutable ledger entry. Every change to a line is one of these.</summary>
[GenerateSerializer, Alias("sg.LedgerEntryKind")]
public enum LedgerEntryKind
{
    Received = 0,
    Reserved = 1,
    Committed = 2,
    Shipped = 3,
    Released = 4,
    Expired = 5,

    /// <summary>A reservation the line refused. Recorded so that a retry gets the same refusal, even after a restart.</summary>
    Refused = 6,

    /// <summary>The line's negative-stock policy or safety stock changed.</summary>
    PolicyChanged = 7,

    /// <summary>An operator adjustment with a reason code; the quantity is the signed delta.</summary>
    Adjusted = 8,

    /// <summary>An adjustment or count variance waiting for a second person; balances do not change yet.</summary>
    ApprovalRequested = 9,

    /// <summary>A pending approval was rejected; balances do not change.</summary>
    ApprovalRejected = 10,

    /// <summary>A physical count; the quantity is the signed variance posted.</summary>
    Counted = 11,

    /// <summary>A customer return restocked on hand.</summary>
    Returned = 12,

    /// <summary>Units left this line for another warehouse (in transit).</summary>
    TransferredOut = 13,

    /// <summary>Units arrived from another warehouse.</summary>
    TransferredIn = 14,
}

/// <summary>Why an operator adjusted a line.</summary>
[GenerateSerializer, Alias("sg.AdjustmentReason")]
public enum AdjustmentReason
{
    Damaged = 0,
    Shrinkage = 1,
    Found = 2,
    Correction = 3,
    Returned = 4,
    Other = 5,
}

/// <summary>Where a hold is in its life. Each transition happens at most once.</summary>
[GenerateSerializer, Alias("sg.HoldStatus")]
public enum HoldStatus
{
    Pending = 0,
    Committed = 1,
    Shipped = 2,
    Released = 3,
    Expired = 4,

    /// <summary>The reservation was refused; the id is spent and a retry gets the same refusal.</summary>
    Refused = 5,
}

/// <summary>Every answer a stock line can give. Callers switch over it exhaustively.</summary>
[GenerateSerializer, Alias("sg.StockLineOutcome")]
public enum StockLineOutcome
{
    Received = 0,
    AlreadyReceived = 1,
    Reserved = 2,
    AlreadyReserved = 3,
    ReservedWithDifferentQuantity = 4,
    InsufficientStock = 5,
    Committed = 6,
    AlreadyCommitted = 7,
    Shipped = 8,
    AlreadyShipped = 9,
    Released = 10,
    AlreadyReleased = 11,
    Expired = 12,
    AlreadyExpired = 13,
    HoldNotFound = 14,

    /// <summary>The hold is not in a state that allows the transition (ship before commit, commit after release).</summary>
    InvalidTransition = 15,
    PolicyChanged = 16,
    AlreadyPolicyChanged = 17,

    /// <summary>An operation id already used for a different command or payload.</summary>
    OperationIdReused = 18,
    Adjusted = 19,
    AlreadyAdjusted = 20,

    /// <summary>A negative adjustment or transfer would take units that reservations still hold.</summary>
    UnitsReserved = 21,

    /// <summary>A write-off of more units than are on hand at all.</summary>
    InsufficientOnHand = 22,

    /// <summary>Parked for a second person (policy <c>approval</c>, or a count variance over the threshold).</summary>
    PendingApproval = 23,
    AlreadyPendingApproval = 24,
    Approved = 25,
    AlreadyApproved = 26,
    Rejected = 27,
    AlreadyRejected = 28,
    ApprovalNotFound = 29,

    /// <summary>The requester tried to approve their own request: four eyes means two people.</summary>
    SameActor = 30,
    Counted = 31,
    AlreadyCounted = 32,

    /// <summary>A count names a starting sequence the line has not reached.</summary>
    CountSequenceInvalid = 33,
    Returned = 34,
    AlreadyReturned = 35,
    TransferredOut = 36,
    TransferredIn = 37,
    AlreadyTransferred = 38,

    /// <summary>The line has an open negative-stock alert and takes no new reservations until it is corrected.</summary>
    BlockedByAlert = 39,

    /// <summary>The caller already keeps as many pending holds on this line as its cap allows; nothing is held.</summary>
    HoldLimitReached = 40,
}

/// <summary>Where the line's negative-stock policy comes from.</summary>
[GenerateSerializer, Alias("sg.PolicySource")]
public enum PolicySource
{
    /// <summary>Set on the line itself: a SKU-level change does not override it.</summary>
    Line = 0,

    /// <summary>Inherited from the SKU definition.</summary>
    Sku = 1,
}

/// <summary>The balances of one line. <c>Available = OnHand − Reserved − SafetyStock</c>.</summary>
[GenerateSerializer, Immutable, Alias("sg.StockLineView")]
public sealed record StockLineView(
    [property: Id(0)] string Warehouse,
    [property: Id(1)] string Sku,
    [property: Id(2)] long OnHand,
    [property: Id(3)] long Reserved,
    [property: Id(4)] long Committed,
    [property: Id(5)] long SafetyStock,
    [property: Id(6)] long Available,
    [property: Id(7)] long Sequence,
    [property: Id(8)] NegativeStockPolicy NegativeStock)
{
    /// <summary>Reserved units beyond on hand: what the line has sold ahead of stock (only under <c>allow</c>).</summary>
    [Id(9)] public long Backordered { get; init; }

    /// <summary>The sequence of the movement that raised the open negative-stock alert, if one is open.</summary>
    [Id(10)] public long? AlertCause { get; init; }

    [Id(11)] public int PendingApprovals { get; init; }
}

/// <summary>One hold on a line as the line sees it.</summary>
[GenerateSerializer, Immutable, Alias("sg.HoldView")]
public sealed record HoldView(
    [property: Id(0)] string ReservationId,
    [property: Id(1)] long Quantity,
    [property: Id(2)] HoldStatus Status,
    [property: Id(3)] DateTimeOffset ExpiresAt);

/// <summary>The answer to any command on a line: the outcome, the line after it, and the hold it touched.</summary>
[GenerateSerializer, Immutable, Alias("sg.StockLineResult")]
public sealed record StockLineResult(
    [property: Id(0)] StockLineOutcome Outcome,
    [property: Id(1)] StockLineView Line,
    [property: Id(2)] HoldView? Hold,
    [property: Id(3)] bool Replayed = false)
{
    [Id(4)] public ApprovalView? Approval { get; init; }

    /// <summary>The ledger entry that carries this outcome (the original one, for a replay), when there is one.</summary>
    [Id(5)] public LedgerEntry? Entry { get; init; }
}

/// <summary>One immutable ledger entry, with the balances after it.</summary>
[GenerateSerializer, Immutable, Alias("sg.LedgerEntry")]
public sealed record LedgerEntry(
    [property: Id(0)] long Sequence,
    [property: Id(1)] LedgerEntryKind Kind,
    [property: Id(2)] long Quantity,
    [property: Id(3)] string? Reason,
    [property: Id(4)] string? ReservationId,
    [property: Id(5)] string OperationId,
    [property: Id(6)] string Actor,
    [property: Id(7)] string? Reference,
    [property: Id(8)] DateTimeOffset At,
    [property: Id(9)] long OnHandAfter,
    [property: Id(10)] long ReservedAfter,
    [property: Id(11)] long CommittedAfter,
    [property: Id(12)] long SafetyStockAfter,
    [property: Id(13)] NegativeStockPolicy PolicyAfter,
    [property: Id(14)] DateTimeOffset? ExpiresAt,
    [property: Id(15)] string Fingerprint)
{
    [Id(16)] public string? Note { get; init; }

    /// <summary>The unit the quantity was entered in (a pack), when it was not the base unit.</summary>
    [Id(17)] public string? Unit { get; init; }

    /// <summary>The quantity as entered, in <see cref="Unit"/>.</summary>
    [Id(18)] public long? UnitQuantity { get; init; }

    [Id(19)] public long? CountedQuantity { get; init; }

    [Id(20)] public long? CountStartedAtSequence { get; init; }

    /// <summary>The other warehouse of a transfer.</summary>
    [Id(21)] public string? Counterparty { get; init; }

    /// <summary>The approval this entry requests or resolves.</summary>
    [Id(22)] public string? ApprovalId { get; init; }

    /// <summary>After this entry: the sequence of the movement that raised the open negative-stock alert, or none.</summary>
    [Id(23)] public long? AlertCauseAfter { get; init; }
}

/// <summary>How a quantity was entered, kept on the ledger entry beside the base units.</summary>
[GenerateSerializer, Immutable, Alias("sg.EnteredQuantity")]
public sealed record EnteredQuantity(
    [property: Id(0)] string Unit,
    [property: Id(1)] long Quantity);

/// <summary>Goods arrived. <see cref="OperationId"/> makes a retry harmless.</summary>
[GenerateSerializer, Immutable, Alias("sg.ReceiveCommand")]
public sealed record ReceiveCommand(
    [property: Id(0)] string OperationId,
    [property: Id(1)] long Quantity,
    [property: Id(2)] string Actor,
    [property: Id(3)] string? Reference = null,
    [property: Id(4)] EnteredQuantity? Entered = null);

/// <summary>Hold units for a reservation until <see cref="ExpiresAt"/>. The reservation id is the operation id.</summary>
[GenerateSerializer, Immutable, Alias("sg.ReserveCommand")]
public sealed record ReserveCommand(
    [property: Id(0)] string ReservationId,
    [property: Id(1)] long Quantity,
    [property: Id(2)] DateTimeOffset ExpiresAt,
    [property: Id(3)] string Actor,
    [property: Id(4)] string? Reference = null,
    [property: Id(5)] EnteredQuantity? Entered = null);

/// <summary>A transition of an existing hold: commit, ship, release or expire.</summary>
[GenerateSerializer, Immutable, Alias("sg.HoldCommand")]
public sealed record HoldCommand(
    [property: Id(0)] string ReservationId,
    [property: Id(1)] string Actor);

/// <summary>Set the line's negative-stock policy and safety stock.</summary>
[GenerateSerializer, Immutable, Alias("sg.SetPolicyCommand")]
public sealed record SetPolicyCommand(
    [property: Id(0)] string OperationId,
    [property: Id(1)] NegativeStockPolicy NegativeStock,
    [property: Id(2)] long SafetyStock,
    [property: Id(3)] string Actor,
    [property: Id(4)] PolicySource Source = PolicySource.Line);

/// <summary>An operator adjustment: a signed delta with a reason code.</summary>
[GenerateSerializer, Immutable, Alias("sg.AdjustCommand")]
public sealed record AdjustCommand(
    [property: Id(0)] string OperationId,
    [property: Id(1)] long QuantityDelta,
    [property: Id(2)] AdjustmentReason Reason,
    [property: Id(3)] string Actor,
    [property: Id(4)] string? Note = null,
    [property: Id(5)] string? Reference = null,
    [property: Id(6)] EnteredQuantity? Entered = null);

/// <summary>
/// A physical count. With <see cref="CountStartedAtSequence"/> the variance is measured against on hand at that
/// sequence, so movements that landed while people counted are kept.
/// </summary>
[GenerateSerializer, Immutable, Alias("sg.CountCommand")]
public sealed record CountCommand(
    [property: Id(0)] string OperationId,
    [property: Id(1)] long CountedQuantity,
    [property: Id(2)] long? CountStartedAtSequence,
    [property: Id(3)] string Actor,
    [property: Id(4)] string? Note = null,
    [property: Id(5)] EnteredQuantity? Entered = null);

/// <summary>Approve or reject a pending approval. The approver must not be the requester.</summary>
[GenerateSerializer, Immutable, Alias("sg.ResolveApprovalCommand")]
public sealed record ResolveApprovalCommand(
    [property: Id(0)] string ApprovalId,
    [property: Id(1)] bool Approve,
    [property: Id(2)] string Actor,
    [property: Id(3)] string? Note = null);

/// <summary>A customer return restocks on hand, with a reason.</summary>
[GenerateSerializer, Immutable, Alias("sg.ReturnCommand")]
public sealed record ReturnCommand(
    [property: Id(0)] string OperationId,
    [property: Id(1)] long Quantity,
    [property: Id(2)] string Reason,
    [property: Id(3)] string Actor,
    [property: Id(4)] string? Reference = null,
    [property: Id(5)] string? Note = null,
    [property: Id(6)] EnteredQuantity? Entered = null);

/// <summary>One side of a transfer between warehouses; the transfer id is the operation id on both lines.</summary>
[GenerateSerializer, Immutable, Alias("sg.TransferCommand")]
public sealed record TransferCommand(
    [property: Id(0)] string TransferId,
    [property: Id(1)] long Quantity,
    [property: Id(2)] string OtherWarehouse,
    [property: Id(3)] string Actor);

/// <summary>An adjustment or count waiting for a second person.</summary>
[GenerateSerializer, Immutable, Alias("sg.ApprovalView")]
public sealed record ApprovalView(
    [property: Id(0)] string ApprovalId,
    [property: Id(1)] string Warehouse,
    [property: Id(2)] string Sku,
    [property: Id(3)] LedgerEntryKind Kind,
    [property: Id(4)] long QuantityDelta,
    [property: Id(5)] string? Reason,
    [property: Id(6)] string RequestedBy,
    [property: Id(7)] DateTimeOffset RequestedAt,
    [property: Id(8)] long Sequence,
    [property: Id(9)] string? Note,
    [property: Id(10)] long? CountedQuantity);

/// <summary>A page of a line's ledger, oldest first.</summary>
[GenerateSerializer, Immutable, Alias("sg.LedgerPage")]
public sealed record LedgerPage(
    [property: Id(0)] IReadOnlyList<LedgerEntry> Entries);
