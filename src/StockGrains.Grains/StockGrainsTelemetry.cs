using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace StockGrains.Grains;

/// <summary>The one <see cref="Meter"/> and one <see cref="ActivitySource"/> of StockGrains, both named <c>StockGrains</c>.</summary>
public static class StockGrainsTelemetry
{
    public const string Name = "StockGrains";

    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary>Line decisions by outcome (reserved, insufficient_stock, ...).</summary>
    public static readonly Counter<long> LineOutcomes = Meter.CreateCounter<long>("stockgrains.line.outcomes", description: "Stock line decisions by outcome.");

    /// <summary>How many entries each durable append of one line carried: group commit at work.</summary>
    public static readonly Histogram<long> AppendBatchSize = Meter.CreateHistogram<long>("stockgrains.ledger.append_batch_size", unit: "{entry}");

    public static readonly Histogram<double> AppendDuration = Meter.CreateHistogram<double>("stockgrains.ledger.append_duration", unit: "ms");

    public static readonly Counter<long> HoldsExpired = Meter.CreateCounter<long>("stockgrains.holds.expired", unit: "{hold}");
}
