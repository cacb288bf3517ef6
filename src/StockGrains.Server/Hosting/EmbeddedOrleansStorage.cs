using StockGrains.Grains;
using StockGrains.Grains.Storage;

namespace StockGrains.Server.Hosting;

/// <summary>
/// Orleans grain storage (line snapshots, order reservations) and durable reminders on the embedded SQLite file,
/// through Orleans' ADO.NET providers and the project's own SQLite queries (<c>sqlite-002-orleans.sql</c>).
/// </summary>
public static class EmbeddedOrleansStorage
{
    public static void Configure(ISiloBuilder silo, SqliteDatabase database)
    {
        silo.AddAdoNetGrainStorage(StorageNames.Snapshots, o =>
        {
            o.Invariant = SqliteDatabase.Invariant;
            o.ConnectionString = database.ConnectionString;
            o.GrainStorageSerializer = new SnapshotSerializer();
        });
        silo.UseAdoNetReminderService(o =>
        {
            o.Invariant = SqliteDatabase.Invariant;
            o.ConnectionString = database.ConnectionString;
        });
    }
}
