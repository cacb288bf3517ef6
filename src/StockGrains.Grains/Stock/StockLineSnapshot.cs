using StockGrains.Stock;

namespace StockGrains.Grains.Stock;

/// <summary>
/// The stored snapshot of a line at one durable ledger sequence. Activation loads it and replays the ledger after
/// <see cref="Sequence"/>. Its JSON shape is a persisted format, guarded by a golden-file test: change it only
/// with a new <see cref="FormatVersion"/>.
/// </summary>
public sealed class StockLineSnapshot
{
    /// <summary>
    /// Version 2 added the policy source, the open alert, pending approvals and refusal reasons; version 3 the owner of
    /// each hold. Older versions still load.
    /// </summary>
    public const int CurrentFormatVersion = 3;

    public int FormatVersion { get; set; } = CurrentFormatVersion;

    public long Sequence { get; set; }

    public long OnHand { get; set; }

    public long Reserved { get; set; }

    public long Committed { get; set; }

    public long SafetyStock { get; set; }

    public NegativeStockPolicy NegativeStock { get; set; }

    public PolicySource PolicySource { get; set; } = PolicySource.Sku;

    public long? AlertCause { get; set; }

    public bool HasForgotten { get; set; }

    public List<SnapshotHold> Holds { get; set; } = [];

    /// <summary>Remembered receipts and policy changes: what a retry of their operation id is answered with.</summary>
    public List<LedgerEntry> Operations { get; set; } = [];

    /// <summary>Approvals, pending or remembered after they were resolved, each as the entry that requested it.</summary>
    public List<SnapshotApproval> Approvals { get; set; } = [];
}

public sealed class SnapshotApproval
{
    public LedgerEntry Request { get; set; } = null!;

    public ApprovalStatus Status { get; set; }
}

public sealed class SnapshotHold
{
    public string ReservationId { get; set; } = "";

    public long Quantity { get; set; }

    public HoldStatus Status { get; set; }

    public DateTimeOffset ExpiresAt { get; set; }

    public string Fingerprint { get; set; } = "";

    public long Sequence { get; set; }

    public string? RefusalReason { get; set; }

    /// <summary>Version 3: the actor that placed the hold (null in older snapshots).</summary>
    public string? Owner { get; set; }
}
