using Microsoft.Extensions.Logging;
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
/// <para>
/// A push can be lost: a silo that stops or crashes between a line's change and its next send, or a failed send. A
/// shard under traffic never goes idle, so it would never rebuild, and allocation passes over a warehouse the model
/// shows empty, so nothing would ever call that line to make it publish again. So a SKU that is read more than
/// <see cref="RefreshAfter"/> after its last rebuild is rebuilt again in the background; the read that notices it is
/// answered from memory, like every other.
/// </para>
/// </summary>
[Reentrant]
public sealed partial class AvailabilityShardGrain(ILedgerStore store, StockGrainsTime time, ILogger<AvailabilityShardGrain> logger)
    : Grain, IAvailabilityShardGrain
{
    /// <summary>Most warehouses one SKU's read model tracks.</summary>
    public const int MaxWarehouses = 10_000;

    /// <summary>Most SKUs one shard keeps: 64 shards hold 64 million. Past it, a SKU is rebuilt on each read and pushes to it are dropped.</summary>
    public const int MaxSkus = 1_000_000;

    /// <summary>How stale a SKU that is being read may grow before it is read from the store again.</summary>
    public static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(60);

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
        if (known.Rebuilding is not { IsCompleted: false } && (known.RebuiltAt is not { } at || time.GetUtcNow() - at >= RefreshAfter))
        {
            known.Rebuilding = known.RebuiltAt is null ? RebuildAsync(sku, known) : RefreshAsync(sku, known);
        }

        if (known.RebuiltAt is null)
        {
            // Readers that arrive while the SKU is first rebuilt wait for the same query; after a failed one, the next
            // read starts another.
            await known.Rebuilding!;

            // A SKU no line has is not kept, so reads of SKUs that do not exist cannot fill the shard.
            if (known.Warehouses.Count == 0 && _skus.TryGetValue(sku, out var kept) && kept == known)
            {
                _skus.Remove(sku);
            }
        }

        return warehouses.Select(w => (known.Warehouses.TryGetValue(w, out var b) ? b : default).Of(w)).ToList();
    }

    private async Task RefreshAsync(string sku, Sku known)
    {
        try
        {
            await RebuildAsync(sku, known);
        }
        catch (Exception ex)
        {
            // The model keeps what it has; the next read after another interval tries again.
            known.RebuiltAt = time.GetUtcNow();
            LogRefreshFailed(ex, sku);
        }
    }

    private async Task RebuildAsync(string sku, Sku known)
    {
        // Anything durable before the query starts is in its answer, so the SKU is as fresh as this moment.
        var startedAt = time.GetUtcNow();
        foreach (var (line, latest) in await store.LatestOfSkuAsync(sku, MaxWarehouses))
        {
            known.Keep(StockKey.Parse(line).Warehouse, new Balance(latest.OnHandAfter, latest.ReservedAfter, latest.SafetyStockAfter,
                latest.OnHandAfter - latest.ReservedAfter - latest.SafetyStockAfter,
                StockLineRules.IsNegative(latest.OnHandAfter, latest.ReservedAfter, latest.PolicyAfter),
                latest.AlertCauseAfter is not null, latest.Sequence));
        }

        known.RebuiltAt = startedAt;
    }

    private Sku Of(string sku)
    {
        if (!_skus.TryGetValue(sku, out var known))
        {
            known = new Sku();
            if (_skus.Count < MaxSkus)
            {
                _skus.Add(sku, known);
            }
        }

        return known;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refreshing the availability of SKU {Sku} from the store failed; it is tried again after the next interval.")]
    private partial void LogRefreshFailed(Exception exception, string sku);

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

    /// <summary>One SKU's warehouses, and when they were last rebuilt from the store since the shard activated.</summary>
    private sealed class Sku
    {
        public Dictionary<string, Balance> Warehouses { get; } = new(StringComparer.Ordinal);

        /// <summary>When the last rebuild's query started (business time); null until the first one succeeds.</summary>
        public DateTimeOffset? RebuiltAt { get; set; }

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
