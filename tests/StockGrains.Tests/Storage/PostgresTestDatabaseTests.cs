using Npgsql;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Storage;

/// <summary>The test databases themselves: made fresh, and gone again when dropped, even with a session still open.</summary>
public sealed class PostgresTestDatabaseTests
{
    // Proves a test database is dropped even while a pooled session still holds it, so a run against a developer's own server leaves nothing behind.
    [Fact]
    public async Task A_test_database_is_dropped_even_with_a_session_still_open()
    {
        var database = await PostgresTestDatabase.CreateAsync();
        var name = new NpgsqlConnectionStringBuilder(database).Database!;
        await using var held = new NpgsqlConnection(database);
        await held.OpenAsync(TestContext.Current.CancellationToken);
        Assert.True(await ExistsAsync(name));

        await PostgresTestDatabase.DropAsync(database);

        Assert.False(await ExistsAsync(name));
    }

    private static async Task<bool> ExistsAsync(string name)
    {
        await using var connection = new NpgsqlConnection(PostgresTestDatabase.ServerConnection());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT COUNT(*) FROM pg_database WHERE datname = @name", connection);
        command.Parameters.AddWithValue("name", name);
        return (long)(await command.ExecuteScalarAsync())! == 1;
    }
}
