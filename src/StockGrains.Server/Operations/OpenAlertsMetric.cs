using StockGrains.Grains;
using StockGrains.Grains.Storage;

namespace StockGrains.Server.Operations;

/// <summary>
/// The gauge <c>stockgrains.alerts.open</c>: open negative-stock alerts across all lines, active or not. It is read
/// from the store, at most once per <see cref="RefreshInterval"/>, so a busy scraper cannot turn it into load.
/// </summary>
public sealed class OpenAlertsMetric
{
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(10);

    /// <summary>Counting stops here; a store with more open alerts than this has bigger problems than the gauge.</summary>
    private const int MaxCounted = 100_000;

    private readonly ILedgerStore _store;
    private readonly object _gate = new();
    private long _value;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public OpenAlertsMetric(ILedgerStore store)
    {
        _store = store;
        StockGrainsTelemetry.Meter.CreateObservableGauge("stockgrains.alerts.open", Read, unit: "{alert}",
            description: "Open negative-stock alerts.");
    }

    private long Read()
    {
        lock (_gate)
        {
            if (DateTimeOffset.UtcNow - _readAt >= RefreshInterval)
            {
                _value = _store.OpenAlertsAsync(MaxCounted).GetAwaiter().GetResult().Count;
                _readAt = DateTimeOffset.UtcNow;
            }

            return _value;
        }
    }
}
