using Npgsql;

namespace StockGrains.Tests.Infrastructure;

/// <summary>
/// A fresh, empty database on the test PostgreSQL server named by <c>STOCKGRAINS_TEST_POSTGRES</c> (which
/// <c>tests/run-all.sh</c> starts). Without that server the PostgreSQL tests fail: they never skip.
/// </summary>
public static class PostgresTestDatabase
{
    public const string Variable = "STOCKGRAINS_TEST_POSTGRES";

    public static async Task<string> CreateAsync()
    {
        var server = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrWhiteSpace(server))
        {
            throw new InvalidOperationException(
                $"The PostgreSQL tests need a server: set {Variable} to a connection string, or run them through 'bash tests/run-all.sh', which starts one.");
        }

        var name = $"sg_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }
}
