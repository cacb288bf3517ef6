using Orleans.Concurrency;
using StockGrains.Grains.Stock;
using StockGrains.Grains.Storage;
using StockGrains.Stock;
using StockGrains.TradePolicies;

namespace StockGrains.Grains.TradePolicies;

/// <summary>
/// The availability read model of one SKU. It lives in memory: on activation it rebuilds from the latest durable
/// entry of each line of the SKU, then lines push their balances after every durable change. Every method is
/// synchronous on the map, so interleaving is safe.
/// </summary>
[Reentrant]
public sealed class SkuAvailabilityGrain(ILedgerStore store) : Grain, ISkuAvailabilityGrain
{
    /// <summary>Most warehouses one SKU's read model tracks.</summary>
    public const int MaxWarehouses = 10_000;

    private readonly Dictionary<string, WarehouseAvailability> _warehouses = new(StringComparer.Ordinal);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var sku = this.GetPrimaryKeyString();
        foreach (var (line, latest) in await store.LatestOfSkuAsync(sku, MaxWarehouses, cancellationToken))
        {
            var key = StockKey.Parse(line);
            Keep(new WarehouseAvailability(key.Warehouse, latest.OnHandAfter, latest.ReservedAfter, latest.SafetyStockAfter,
                latest.OnHandAfter - latest.ReservedAfter - latest.SafetyStockAfter,
                StockLineRules.IsNegative(latest.OnHandAfter, latest.ReservedAfter, latest.PolicyAfter),
                latest.AlertCauseAfter is not null, latest.Sequence));
        }
    }

    public Task PublishAsync(StockLineView line)
    {
        Keep(new WarehouseAvailability(line.Warehouse, line.OnHand, line.Reserved, line.SafetyStock, line.Available,
            StockLineRules.IsNegative(line.OnHand, line.Reserved, line.NegativeStock), line.AlertCause is not null, line.Sequence));
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<WarehouseAvailability>> GetAsync(IReadOnlyList<string> warehouses) =>
        Task.FromResult<IReadOnlyList<WarehouseAvailability>>(warehouses
            .Select(w => _warehouses.TryGetValue(w, out var a) ? a : new WarehouseAvailability(w, 0, 0, 0, 0, false, false, 0))
            .ToList());

    private void Keep(WarehouseAvailability update)
    {
        if (_warehouses.TryGetValue(update.Warehouse, out var known) && known.Sequence > update.Sequence)
        {
            return;
        }

        if (known is null && _warehouses.Count >= MaxWarehouses)
        {
            return;
        }

        _warehouses[update.Warehouse] = update;
    }
}
