namespace StockGrains.Grains;

/// <summary>
/// The clock of the business rules: hold expiry and ledger times. It is its own service rather than the container's
/// <see cref="TimeProvider"/> so that tests can fake business time without freezing Orleans' own timers, which read
/// the container's clock.
/// </summary>
public sealed class StockGrainsTime(TimeProvider provider)
{
    public TimeProvider Provider { get; } = provider;

    public DateTimeOffset GetUtcNow() => Provider.GetUtcNow();
}
