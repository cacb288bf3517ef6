namespace StockGrains.Grains;

/// <summary>Names of the grain storage providers the grains ask for.</summary>
public static class StorageNames
{
    /// <summary>Snapshots of stock lines, and the state of SKUs, trade policies and transfers (Orleans' ADO.NET storage).</summary>
    public const string Snapshots = "snapshots";

    /// <summary>The state of order reservations, written with the ledger's group commit (<c>GroupCommitGrainStorage</c>).</summary>
    public const string Orders = "orders";
}
