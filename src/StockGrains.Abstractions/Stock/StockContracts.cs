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
    [property: Id(8)] NegativeStockPolicy NegativeStock);

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
    [property: Id(3)] bool Replayed = false);

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
    [property: Id(15)] string Fingerprint);

/// <summary>Goods arrived. <see cref="OperationId"/> makes a retry harmless.</summary>
[GenerateSerializer, Immutable, Alias("sg.ReceiveCommand")]
public sealed record ReceiveCommand(
    [property: Id(0)] string OperationId,
    [property: Id(1)] long Quantity,
    [property: Id(2)] string Actor,
    [property: Id(3)] string? Reference = null);

/// <summary>Hold units for a reservation until <see cref="ExpiresAt"/>. The reservation id is the operation id.</summary>
[GenerateSerializer, Immutable, Alias("sg.ReserveCommand")]
public sealed record ReserveCommand(
    [property: Id(0)] string ReservationId,
    [property: Id(1)] long Quantity,
    [property: Id(2)] DateTimeOffset ExpiresAt,
    [property: Id(3)] string Actor,
    [property: Id(4)] string? Reference = null);

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
    [property: Id(3)] string Actor);

/// <summary>A page of a line's ledger, oldest first.</summary>
[GenerateSerializer, Immutable, Alias("sg.LedgerPage")]
public sealed record LedgerPage(
    [property: Id(0)] IReadOnlyList<LedgerEntry> Entries);
