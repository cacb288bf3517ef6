using System.ComponentModel.DataAnnotations;

namespace StockGrains.Grains.Stock;

/// <summary>Limits of one stock line grain. Bound from configuration section <c>StockGrains:StockLine</c>.</summary>
public sealed class StockLineOptions
{
    public const string Section = "StockGrains:StockLine";

    /// <summary>A snapshot is written after this many new ledger entries, so activation replays at most about this many.</summary>
    [Range(1, 1_000_000)]
    public int SnapshotEvery { get; set; } = 1_000;

    /// <summary>Most entries in one append of one line; a longer queue is written in several appends.</summary>
    [Range(1, 100_000)]
    public int MaxEntriesPerAppend { get; set; } = 1_024;

    /// <summary>
    /// Appends of one line handed to the store before the first of them is confirmed (pipelining). A hot line needs
    /// three at a time: one committed but not yet seen by the line, one the writer is writing, and one taking the
    /// entries decided meanwhile; a fourth spares the line a wait when the writer is quick.
    /// </summary>
    [Range(1, 8)]
    public int MaxAppendsInFlight { get; set; } = 4;

    /// <summary>Finished operations and closed holds a line keeps in memory; older ones are looked up in the ledger.</summary>
    [Range(1, 10_000_000)]
    public int RememberLimit { get; set; } = 10_000;

    /// <summary>Most holds expired in one turn, so one wake-up after a long sleep does not hold the line for long.</summary>
    [Range(1, 1_000_000)]
    public int MaxExpiriesPerTurn { get; set; } = 1_000;

    /// <summary>A count whose variance exceeds this many base units, either way, waits for a second person.</summary>
    [Range(0, 1_000_000_000)]
    public long CountApprovalThreshold { get; set; } = 100;

    /// <summary>
    /// A deliberately broken build: reservations skip the stock check. Never set it in production; it exists so the
    /// load generator's invariant check can be shown to catch an oversell (a check that passes a broken build is broken).
    /// </summary>
    public bool UnsafeSkipStockCheck { get; set; }

    /// <summary>
    /// A deliberately broken build: a line answers before its entry is durable. Never set it in production; it exists
    /// so the chaos checker can be shown to catch acknowledged-but-lost changes after a crash.
    /// </summary>
    public bool UnsafeAcknowledgeBeforeDurable { get; set; }

    /// <summary>Ledger entries read per page while replaying on activation.</summary>
    [Range(1, 100_000)]
    public int ReplayPageSize { get; set; } = 1_000;
}
