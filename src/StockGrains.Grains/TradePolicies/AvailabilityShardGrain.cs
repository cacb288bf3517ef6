using Orleans.Concurrency;
using StockGrains.Grains.Stock;
using StockGrains.Grains.Storage;
using StockGrains.Stock;
using StockGrains.TradePolicies;

namespace StockGrains.Grains.TradePolicies;

/// <summary>
/// The availability read model of the SKUs of one shard. It lives in memory: lines push their balances after their
/// durable changes, a silo's lines many to a message (<see cref="AvailabilityPublisher"/>), and the first read of a SKU
/// since the shard activated rebuilds that SKU from the latest durable entry of each of its lines. Updates are kept by
/// sequence, so a push and a rebuild may arrive in either order. Every change to the maps is synchronous, so
/// interleaving is safe.
/// </summary>
[Reentrant]
public sealed class AvailabilityShardGrain(ILedgerStore store) : Grain, IAvailabilityShardGrain
{
    /// <summary>Most warehouses one SKU's read model tracks.</summary>
    public const int MaxWarehouses = 10_000;

    private readonly Dictionary<string, Sku> _skus = new(StringComparer.Ordinal);

    public Task PublishAsync(IReadOnlyList<StockLineView> lines)
    {
        foreach (var line in lines)
        {
            Of(line.Sku).Keep(line.Warehouse, new Balance(line.OnHand, line.Reserved, line.SafetyStock, line.Available,
                StockLineRules.IsNegative(line.OnHand, line.Reserved, line.NegativeStock), line.AlertCause is not null, line.Sequence));
        }

        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<WarehouseAvailability>> GetAsync(string sku, IReadOnlyList<string> warehouses)
    {
        var known = Of(sku);
        if (!known.Rebuilt)
        {
            // Readers that arrive while the SKU is rebuilt wait for the same query; a failed one is tried again by the next read.
            var rebuilding = known.Rebuilding ??= RebuildAsync(sku, known);
            try
            {
                await rebuilding;
            }
            catch
            {
                if (known.Rebuilding == rebuilding)
                {
                    known.Rebuilding = null;
                }

                throw;
            }
        }

        return warehouses.Select(w => (known.Warehouses.TryGetValue(w, out var b) ? b : default).Of(w)).ToList();
    }

    private async Task RebuildAsync(string sku, Sku known)
    {
        foreach (var (line, latest) in await store.LatestOfSkuAsync(sku, MaxWarehouses))
        {
            known.Keep(StockKey.Parse(line).Warehouse, new Balance(latest.OnHandAfter, latest.ReservedAfter, latest.SafetyStockAfter,
                latest.OnHandAfter - latest.ReservedAfter - latest.SafetyStockAfter,
                StockLineRules.IsNegative(latest.OnHandAfter, latest.ReservedAfter, latest.PolicyAfter),
                latest.AlertCauseAfter is not null, latest.Sequence));
        }

        known.Rebuilt = true;
    }

    private Sku Of(string sku)
    {
        if (!_skus.TryGetValue(sku, out var known))
        {
            known = new Sku();
            _skus.Add(sku, known);
        }

        return known;
    }

    /// <summary>
    /// What one warehouse contributes, kept as a value: a record made for every update and kept until the next one
    /// outlived most young collections, and 10,000 SKUs that each change now and then made thousands of them per
    /// collection to promote.
    /// </summary>
    private readonly record struct Balance(long OnHand, long Reserved, long SafetyStock, long Available, bool Negative, bool BlockedByAlert, long Sequence)
    {
        public WarehouseAvailability Of(string warehouse) =>
            new(warehouse, OnHand, Reserved, SafetyStock, Available, Negative, BlockedByAlert, Sequence);
    }

    /// <summary>One SKU's warehouses, and whether they have been rebuilt from the store since the shard activated.</summary>
    private sealed class Sku
    {
        public Dictionary<string, Balance> Warehouses { get; } = new(StringComparer.Ordinal);

        public bool Rebuilt { get; set; }

        public Task? Rebuilding { get; set; }

        public void Keep(string warehouse, Balance update)
        {
            if (Warehouses.TryGetValue(warehouse, out var known) ? known.Sequence > update.Sequence : Warehouses.Count >= MaxWarehouses)
            {
                return;
            }

            Warehouses[warehouse] = update;
        }
    }
}
