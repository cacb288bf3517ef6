using StockGrains.Skus;
using StockGrains.Stock;

namespace StockGrains.Server.Http;

/// <summary>
/// Turns a quantity entered in a unit into base units, using the SKU's packs. Without a unit the quantity is already
/// in base units. An unknown unit, or a product too large to hold, is a validation error: a case is never guessed
/// to be a piece.
/// </summary>
public static class Units
{
    public static async Task<(long Base, EnteredQuantity? Entered)> ToBaseAsync(
        IGrainFactory grains, string sku, string? unit, long quantity, string field, Validate validate)
    {
        if (unit is null || !validate.Ok)
        {
            return (quantity, null);
        }

        if (!Ids.IsValid(unit))
        {
            validate.Add(field, "A unit name is 1–64 characters of A-Z a-z 0-9 . _ -");
            return (quantity, null);
        }

        var definition = await grains.Reference<ISkuGrain>(sku).GetAsync();
        if (definition is null)
        {
            validate.Add(field, $"Unknown unit '{unit}': SKU '{sku}' has no definition, so quantities are in its base unit.");
            return (quantity, null);
        }

        var sign = Math.Sign(quantity);
        if (definition.ToBase(unit, Math.Abs(quantity), Validate.MaxQuantity) is not { } converted)
        {
            var known = string.Join(", ", new[] { definition.BaseUnit }.Concat(definition.Packs.Keys));
            validate.Add(field, definition.ToBase(unit, 1, Validate.MaxQuantity) is null
                ? $"Unknown unit '{unit}' for SKU '{sku}'. Known units: {known}."
                : $"{quantity} {unit} is more than {Validate.MaxQuantity:N0} {definition.BaseUnit}.");
            return (quantity, null);
        }

        return (sign * converted, unit == definition.BaseUnit ? null : new EnteredQuantity(unit, quantity));
    }
}
