using System.Diagnostics.CodeAnalysis;

namespace StockGrains.Stock;

/// <summary>
/// The identity of a stock line: one SKU at one warehouse, written canonically as <c>warehouse/sku</c>.
/// This type is the only place that formats or parses that key, so a line can never split into two grains.
/// </summary>
[GenerateSerializer, Immutable, Alias("sg.StockKey")]
public readonly record struct StockKey
{
    private StockKey(string warehouse, string sku)
    {
        Warehouse = warehouse;
        Sku = sku;
    }

    [Id(0)] public string Warehouse { get; }

    [Id(1)] public string Sku { get; }

    public static StockKey Create(string warehouse, string sku)
    {
        if (!Ids.IsValid(warehouse))
        {
            throw new ArgumentException($"'{warehouse}' is not a valid warehouse id.", nameof(warehouse));
        }

        if (!Ids.IsValid(sku))
        {
            throw new ArgumentException($"'{sku}' is not a valid SKU.", nameof(sku));
        }

        return new StockKey(warehouse, sku);
    }

    public static bool TryCreate(string? warehouse, string? sku, out StockKey key)
    {
        if (Ids.IsValid(warehouse) && Ids.IsValid(sku))
        {
            key = new StockKey(warehouse!, sku!);
            return true;
        }

        key = default;
        return false;
    }

    public static bool TryParse([NotNullWhen(true)] string? text, out StockKey key)
    {
        key = default;
        if (text is null)
        {
            return false;
        }

        var slash = text.IndexOf('/');
        if (slash < 0 || slash != text.LastIndexOf('/'))
        {
            return false;
        }

        return TryCreate(text[..slash], text[(slash + 1)..], out key);
    }

    public static StockKey Parse(string text) =>
        TryParse(text, out var key) ? key : throw new FormatException($"'{text}' is not a canonical 'warehouse/sku' key.");

    public override string ToString() => $"{Warehouse}/{Sku}";
}
