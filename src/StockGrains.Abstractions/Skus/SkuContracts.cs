using Orleans.Concurrency;
using StockGrains.Stock;

namespace StockGrains.Skus;

/// <summary>A SKU's units: every quantity is stored in the base unit; a pack converts to it exactly.</summary>
[GenerateSerializer, Immutable, Alias("sg.SkuDefinition")]
public sealed record SkuDefinition(
    [property: Id(0)] string Sku,
    [property: Id(1)] string BaseUnit,
    [property: Id(2)] IReadOnlyDictionary<string, long> Packs,
    [property: Id(3)] NegativeStockPolicy? NegativeStock,
    [property: Id(4)] int Version)
{
    /// <summary>
    /// Converts a quantity entered in <paramref name="unit"/> to base units. Null when the unit is unknown or the
    /// result would not fit in <paramref name="max"/>: a quantity that does not convert exactly is never guessed at.
    /// </summary>
    public long? ToBase(string unit, long quantity, long max)
    {
        var factor = unit == BaseUnit ? 1 : Packs.TryGetValue(unit, out var f) ? f : 0;
        if (factor == 0)
        {
            return null;
        }

        return quantity > max / factor ? null : quantity * factor;
    }
}

[GenerateSerializer, Immutable, Alias("sg.DefineSku")]
public sealed record DefineSku(
    [property: Id(0)] string BaseUnit,
    [property: Id(1)] IReadOnlyDictionary<string, long> Packs,
    [property: Id(2)] NegativeStockPolicy? NegativeStock,
    [property: Id(3)] string Actor)
{
    /// <summary>The request's idempotency key, if it has one: a retry with it is answered as the original was.</summary>
    [Id(4)] public string? OperationId { get; init; }
}

/// <summary>What defining a SKU did, and the definition it answers with (none when the key was reused).</summary>
[GenerateSerializer, Immutable, Alias("sg.SkuResult")]
public sealed record SkuResult(
    [property: Id(0)] DefinitionOutcome Outcome,
    [property: Id(1)] SkuDefinition? Definition);

/// <summary>A SKU definition (key: the SKU). Its negative-stock policy is the default of every line of the SKU.</summary>
[Alias("sg.ISkuGrain")]
public interface ISkuGrain : IGrainWithStringKey
{
    [Alias("Get"), ReadOnly, AlwaysInterleave]
    Task<SkuDefinition?> GetAsync();

    /// <summary>Defines the SKU: the definition it answers with; throws when its idempotency key was used for another request.</summary>
    [Alias("Define")]
    Task<SkuDefinition> DefineAsync(DefineSku command);

    [Alias("DefineOnce")]
    Task<SkuResult> DefineOnceAsync(DefineSku command);
}
