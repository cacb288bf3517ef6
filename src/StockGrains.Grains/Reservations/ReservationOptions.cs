using System.ComponentModel.DataAnnotations;

namespace StockGrains.Grains.Reservations;

/// <summary>Limits of order reservations. Bound from configuration section <c>StockGrains:Reservations</c>.</summary>
public sealed class ReservationOptions
{
    public const string Section = "StockGrains:Reservations";

    /// <summary>How long a hold lasts when the request names no TTL.</summary>
    [Range(1, 604_800)]
    public int DefaultTtlSeconds { get; set; } = 900;

    /// <summary>The longest TTL a request may ask for (7 days).</summary>
    [Range(1, 604_800)]
    public int MaxTtlSeconds { get; set; } = 604_800;

    /// <summary>Most lines in one order.</summary>
    [Range(1, 1_000)]
    public int MaxLines { get; set; } = 100;

    /// <summary>
    /// Each line's own hold outlives the order's expiry by this much. The order expires its lines itself at its
    /// expiry time; the grace keeps a line from expiring under an order that is committing at that same moment, and
    /// the line's own expiry still frees the units if the order cannot act.
    /// </summary>
    [Range(0, 3_600)]
    public int LineHoldGraceSeconds { get; set; } = 30;

    /// <summary>
    /// Whether an open order (placed and holding, or committed and not yet shipped) stays in memory between its calls,
    /// for <see cref="IdleSeconds"/> after the last one. By default it leaves when each call ends, as an ended order
    /// does: at 10,000 orders a second, two minutes of open orders are over a million activations of about 5 KB each,
    /// and promoting them through the collector's generations made its pauses the orders' tail (docs/benchmarks.md,
    /// fourteenth session). The price is one read of the order's state when it is called again (a commit, say), batched
    /// with other reads; a shop whose commits follow within seconds at a modest rate may keep open orders instead.
    /// </summary>
    public bool KeepOpenInMemory { get; set; }

    /// <summary>
    /// How long an order that stays in memory (one being placed, or an open one with <see cref="KeepOpenInMemory"/>)
    /// stays after its last call. Every order is an activation of its own, and Orleans'
    /// default of 15 minutes would keep 2.7 million of them on a silo taking 3,000 orders a second; two minutes still
    /// covers the usual wait between placing an order and committing it. An order that is called after this reads its
    /// state again, and one that is not active at its expiry is expired by its lines a grace period later (above). The
    /// lower bound is above Orleans' collection quantum (one minute), which a shorter age would not honour anyway.
    /// </summary>
    [Range(61, 86_400)]
    public int IdleSeconds { get; set; } = 120;
}
