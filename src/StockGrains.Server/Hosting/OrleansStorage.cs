using Orleans.Runtime.Hosting;
using StockGrains.Grains;
using StockGrains.Grains.Storage;

namespace StockGrains.Server.Hosting;

/// <summary>
/// Orleans grain storage (line snapshots, order reservations, SKUs, trade policies, transfers) and durable reminders,
/// through Orleans' ADO.NET providers and the project's own queries (<c>sqlite-002-orleans.sql</c>,
/// <c>postgres-002-orleans.sql</c>). The serializer is named: Orleans' default JSON would store .NET type names.
/// </summary>
public static class OrleansStorage
{
    public static void Configure(ISiloBuilder silo, string invariant, string connectionString)
    {
        var serializer = new SnapshotSerializer();
        silo.AddAdoNetGrainStorage(StorageNames.Snapshots, o =>
        {
            o.Invariant = invariant;
            o.ConnectionString = connectionString;
            o.GrainStorageSerializer = serializer;
        });
        // Orders are written many at a time, so they share the ledger writer's commits.
        silo.Services.AddGrainStorage(StorageNames.Orders, (services, _) => new GroupCommitGrainStorage(
            services.GetRequiredService<ILedgerStore>(), serializer));
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = invariant;
            o.ConnectionString = connectionString;
        });
    }
}
