using System.Diagnostics;
using System.Diagnostics.Metrics;
using StockGrains.Stock;

namespace StockGrains.Grains;

/// <summary>The one <see cref="Meter"/> and one <see cref="ActivitySource"/> of StockGrains, both named <c>StockGrains</c>.</summary>
public static class StockGrainsTelemetry
{
    public const string Name = "StockGrains";

    public static readonly ActivitySource ActivitySource = new(Name);

    public static readonly Meter Meter = new(Name);

    /// <summary>Line decisions by outcome (reserved, insufficient_stock, ...).</summary>
    public static readonly Counter<long> LineOutcomes = Meter.CreateCounter<long>("stockgrains.line.outcomes", description: "Stock line decisions by outcome.");

    /// <summary>
    /// Each outcome's name, made once: an enum's <c>ToString</c> boxes the value first, one more object for every
    /// decision of every line.
    /// </summary>
    private static readonly string[] OutcomeNames = NameEveryOutcome();

    /// <summary>Counts one line decision under its outcome.</summary>
    public static void CountOutcome(StockLineOutcome outcome) =>
        LineOutcomes.Add(1, new KeyValuePair<string, object?>("outcome",
            (uint)outcome < (uint)OutcomeNames.Length ? OutcomeNames[(int)outcome] : outcome.ToString()));

    private static string[] NameEveryOutcome()
    {
        var outcomes = Enum.GetValues<StockLineOutcome>();
        var names = new string[(int)outcomes.Max() + 1];
        foreach (var outcome in outcomes)
        {
            names[(int)outcome] = outcome.ToString();
        }

        return names;
    }

    /// <summary>How many entries each durable append of one line carried: group commit at work.</summary>
    public static readonly Histogram<long> AppendBatchSize = Meter.CreateHistogram<long>("stockgrains.ledger.append_batch_size", unit: "{entry}");

    public static readonly Histogram<double> AppendDuration = Meter.CreateHistogram<double>("stockgrains.ledger.append_duration", unit: "ms");

    public static readonly Counter<long> HoldsExpired = Meter.CreateCounter<long>("stockgrains.holds.expired", unit: "{hold}");
}
