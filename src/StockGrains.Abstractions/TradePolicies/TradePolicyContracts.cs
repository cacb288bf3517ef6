using Orleans.Concurrency;
using StockGrains.Stock;

namespace StockGrains.TradePolicies;

/// <summary>How a trade policy picks warehouses for a line that names none.</summary>
[GenerateSerializer, Alias("sg.AllocationStrategy")]
public enum AllocationStrategy
{
    /// <summary>In the policy's order: the first warehouse first.</summary>
    Priority = 0,

    /// <summary>The warehouse with the most available first.</summary>
    MostAvailable = 1,
}

/// <summary>A sales channel's warehouses, in order, and how it allocates across them.</summary>
[GenerateSerializer, Immutable, Alias("sg.TradePolicyDefinition")]
public sealed record TradePolicyDefinition(
    [property: Id(0)] string TradePolicy,
    [property: Id(1)] IReadOnlyList<string> Warehouses,
    [property: Id(2)] AllocationStrategy Allocation,
    [property: Id(3)] int Version);

/// <summary>Defines a trade policy; with an <see cref="OperationId"/> (an idempotency key) a retry is answered as the original was.</summary>
[GenerateSerializer, Immutable, Alias("sg.DefineTradePolicy")]
public sealed record DefineTradePolicy(
    [property: Id(0)] IReadOnlyList<string> Warehouses,
    [property: Id(1)] AllocationStrategy Allocation,
    [property: Id(2)] string? OperationId = null);

/// <summary>What defining a trade policy did, and the definition it answers with (none when the key was reused).</summary>
[GenerateSerializer, Immutable, Alias("sg.TradePolicyResult")]
public sealed record TradePolicyResult(
    [property: Id(0)] DefinitionOutcome Outcome,
    [property: Id(1)] TradePolicyDefinition? Definition);

[Alias("sg.ITradePolicyGrain")]
public interface ITradePolicyGrain : IGrainWithStringKey
{
    [Alias("Get"), ReadOnly, AlwaysInterleave]
    Task<TradePolicyDefinition?> GetAsync();

    /// <summary>Defines the policy with no idempotency key: the definition, as stored.</summary>
    [Alias("Define")]
    Task<TradePolicyDefinition> DefineAsync(IReadOnlyList<string> warehouses, AllocationStrategy allocation);

    [Alias("DefineOnce")]
    Task<TradePolicyResult> DefineOnceAsync(DefineTradePolicy command);
}

/// <summary>What one warehouse contributes to a SKU's availability, and why.</summary>
[GenerateSerializer, Immutable, Alias("sg.WarehouseAvailability")]
public sealed record WarehouseAvailability(
    [property: Id(0)] string Warehouse,
    [property: Id(1)] long OnHand,
    [property: Id(2)] long Reserved,
    [property: Id(3)] long SafetyStock,
    [property: Id(4)] long Available,
    [property: Id(5)] bool Negative,
    [property: Id(6)] bool BlockedByAlert,
    [property: Id(7)] long Sequence)
{
    /// <summary>
    /// What this warehouse adds to the policy's total: never less than zero, so a warehouse below zero never hides
    /// the stock of the others, and nothing while an alert blocks it.
    /// </summary>
    public long Contributes => BlockedByAlert ? 0 : Math.Max(0, Available);
}

/// <summary>
/// The availability read model of the SKUs of one shard (key: the shard's number, see <see cref="Availability"/>),
/// across every warehouse, fed by the lines. It answers "how many can I sell?" and guides allocation; it never decides a
/// reservation — the line does. SKUs share shards so that a silo can send the changes of many lines in one message: one
/// read-model grain per SKU took one message per reservation under load spread over many SKUs, about a third of the
/// silo's processor time.
/// </summary>
[Alias("sg.IAvailabilityShardGrain")]
public interface IAvailabilityShardGrain : IGrainWithIntegerKey
{
    /// <summary>Lines' latest balances. Older sequences than the ones held are ignored, so order does not matter.</summary>
    [Alias("Publish"), OneWay]
    Task PublishAsync(IReadOnlyList<StockLineView> lines);

    [Alias("Get"), ReadOnly]
    Task<IReadOnlyList<WarehouseAvailability>> GetAsync(string sku, IReadOnlyList<string> warehouses);
}

/// <summary>Where a SKU's availability lives: which shard, and the grain that holds it.</summary>
public static class Availability
{
    /// <summary>
    /// Shards of the read model. Every silo and client must agree on it; the read model is rebuilt from the ledger, so
    /// it can change at a restart of the whole cluster, never in a rolling one.
    /// </summary>
    public const int Shards = 64;

    // One array of references per grain factory: reads come on every order, and a reference made afresh formats its
    // interface's name each time.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IGrainFactory, IAvailabilityShardGrain[]> References = new();

    /// <summary>
    /// The shard of <paramref name="sku"/>: FNV-1a over its UTF-16 code units, which, unlike
    /// <see cref="string.GetHashCode()"/>, is the same in every process and every version of .NET.
    /// </summary>
    public static int ShardOf(string sku)
    {
        ArgumentException.ThrowIfNullOrEmpty(sku);
        var hash = 2166136261u;
        foreach (var c in sku)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % Shards);
    }

    /// <summary>The grain that holds shard <paramref name="shard"/>.</summary>
    public static IAvailabilityShardGrain Shard(this IGrainFactory grains, int shard)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentOutOfRangeException.ThrowIfNegative(shard);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shard, Shards);
        var shards = References.GetValue(grains, static g => Enumerable.Range(0, Shards).Select(i => g.GetGrain<IAvailabilityShardGrain>(i)).ToArray());
        return shards[shard];
    }

    /// <summary>What each of <paramref name="warehouses"/> contributes to <paramref name="sku"/>, from the read model's memory.</summary>
    public static Task<IReadOnlyList<WarehouseAvailability>> AvailabilityAsync(this IGrainFactory grains, string sku, IReadOnlyList<string> warehouses) =>
        grains.Shard(ShardOf(sku)).GetAsync(sku, warehouses);
}
