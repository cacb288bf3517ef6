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
