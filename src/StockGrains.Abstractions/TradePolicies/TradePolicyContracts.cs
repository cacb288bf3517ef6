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

[Alias("sg.ITradePolicyGrain")]
public interface ITradePolicyGrain : IGrainWithStringKey
{
    [Alias("Get"), ReadOnly, AlwaysInterleave]
    Task<TradePolicyDefinition?> GetAsync();

    [Alias("Define")]
    Task<TradePolicyDefinition> DefineAsync(IReadOnlyList<string> warehouses, AllocationStrategy allocation);
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
/// The availability read model of one SKU (key: the SKU), across every warehouse, fed by the lines. It answers
/// "how many can I sell?" and guides allocation; it never decides a reservation — the line does.
/// </summary>
[Alias("sg.ISkuAvailabilityGrain")]
public interface ISkuAvailabilityGrain : IGrainWithStringKey
{
    /// <summary>A line's latest balances. Older sequences than the one held are ignored, so order does not matter.</summary>
    [Alias("Publish"), OneWay]
    Task PublishAsync(StockLineView line);

    [Alias("Get"), ReadOnly]
    Task<IReadOnlyList<WarehouseAvailability>> GetAsync(IReadOnlyList<string> warehouses);
}
