using Microsoft.Data.Sqlite;
using StockGrains.Grains.Storage;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Storage;

[Collection(nameof(ServerCollection))]
public sealed class SqliteStoreTests(ServerFixture fixture)
{
    // Proves the embedded file runs in WAL mode and every connection, the Orleans providers' included, commits with synchronous=FULL.
    [Fact]
    public async Task Every_connection_to_the_embedded_file_commits_durably()
    {
        await using var connection = await fixture.Host.Database.OpenAsync();
        Assert.Equal("wal", await ScalarAsync(connection, "PRAGMA journal_mode"));
        Assert.Equal(2L, await ScalarAsync(connection, "PRAGMA synchronous"));
        await using var writer = await fixture.Host.Database.OpenWriterAsync();
        Assert.Equal(2L, await ScalarAsync(writer, "PRAGMA synchronous"));
    }

    // Proves the writer keeps the journals of its savepoints in memory: in a file, every page an append touched was written there too, and a hot line ran at two thirds of the rate.
    [Fact]
    public async Task The_writer_keeps_the_journals_of_its_savepoints_in_memory()
    {
        await using var writer = await fixture.Host.Database.OpenWriterAsync();
        Assert.Equal(2L, await ScalarAsync(writer, "PRAGMA temp_store"));
    }

    // Proves a lookup by id reads each kind of entry through its own index: written as one OR, SQLite's planner read every entry of the line.
    [Fact]
    public async Task A_lookup_by_id_goes_through_indexes_and_never_reads_every_entry_of_the_line()
    {
        await using var connection = await fixture.Host.Database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + RelationalLedgerStore.FindOneSql;
        command.Parameters.AddWithValue("@line", "w/s");
        command.Parameters.AddWithValue("@id", "x");
        var plan = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.DoesNotContain(plan, step => step.StartsWith("SCAN", StringComparison.Ordinal) || step.EndsWith("PRIMARY KEY (line=?)", StringComparison.Ordinal));
        Assert.Equal(3, plan.Count(step => step.Contains("INDEX", StringComparison.Ordinal)));
        Assert.Contains(plan, step => step.EndsWith("PRIMARY KEY (line=? AND sequence=?)", StringComparison.Ordinal));
    }

    // Proves the grain-state identity is unique: of two concurrent first writes of one grain, exactly one wins.
    [Fact]
    public async Task Two_first_writes_of_one_grain_state_cannot_both_succeed()
    {
        await using var connection = await fixture.Host.Database.OpenAsync();
        var query = (string)(await ScalarAsync(connection, "SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'WriteToStorageKey'"))!;
        var key = Fresh.Id("grain");
        var results = new List<object?>();
        for (var writer = 0; writer < 2; writer++)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = query;
            command.Parameters.AddWithValue("@GrainIdHash", 7);
            command.Parameters.AddWithValue("@GrainIdN0", 0L);
            command.Parameters.AddWithValue("@GrainIdN1", 0L);
            command.Parameters.AddWithValue("@GrainTypeHash", 9);
            command.Parameters.AddWithValue("@GrainTypeString", "test");
            command.Parameters.AddWithValue("@GrainIdExtensionString", key);
            command.Parameters.AddWithValue("@ServiceId", "svc");
            command.Parameters.AddWithValue("@GrainStateVersion", DBNull.Value);
            command.Parameters.AddWithValue("@PayloadBinary", new byte[] { (byte)writer });
            results.Add(await command.ExecuteScalarAsync());
        }

        Assert.Equal(1L, results[0]);
        Assert.Equal(DBNull.Value, results[1]);
        Assert.Equal(1L, await ScalarAsync(connection, $"SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = '{key}'"));
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }
}
