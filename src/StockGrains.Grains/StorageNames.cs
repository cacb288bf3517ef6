namespace StockGrains.Grains;

/// <summary>Names of the grain storage providers the grains ask for.</summary>
public static class StorageNames
{
    /// <summary>Snapshots of stock lines and the state of order reservations.</summary>
    public const string Snapshots = "snapshots";
}
