using Orleans.Runtime.Hosting;
using StockGrains.Grains;
using StockGrains.Grains.Storage;

namespace StockGrains.Server.Hosting;

/// <summary>
/// Orleans grain storage and reminders on the embedded SQLite file. Orleans' ADO.NET providers know no SQLite
/// dialect (their invariant table has no entry for Microsoft.Data.Sqlite), so the embedded store brings its own
/// small implementations over the same file; cluster mode uses the ADO.NET providers on PostgreSQL.
/// </summary>
public static class EmbeddedOrleansStorage
{
    public static void Configure(ISiloBuilder silo)
    {
        silo.Services.AddGrainStorage(StorageNames.Snapshots, (sp, _) => ActivatorUtilities.CreateInstance<SqliteGrainStorage>(sp));
        silo.Services.AddSingleton<IReminderTable, SqliteReminderTable>();
        silo.AddReminders();
    }
}
