using System.Diagnostics.Metrics;
using StockGrains.Grains;
using StockGrains.Stock;

namespace StockGrains.Tests.Stock;

public sealed class LineTelemetryTests
{
    // Proves the outcome counter tags every decision with its outcome's own name, for every outcome there is.
    [Fact]
    public void Every_outcome_is_counted_under_its_own_name()
    {
        // Other tests count outcomes at the same time; a listener callback runs on the recording thread, so this
        // thread's measurements are exactly the ones recorded below.
        var thread = Environment.CurrentManagedThreadId;
        var seen = new List<string?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == StockGrainsTelemetry.Name && instrument.Name == "stockgrains.line.outcomes")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            if (Environment.CurrentManagedThreadId == thread)
            {
                seen.Add(tags.ToArray().Single(t => t.Key == "outcome").Value as string);
            }
        });
        listener.Start();

        var outcomes = Enum.GetValues<StockLineOutcome>();
        foreach (var outcome in outcomes)
        {
            StockGrainsTelemetry.CountOutcome(outcome);
        }

        Assert.Equal(outcomes.Select(o => o.ToString()), seen);
    }
}
