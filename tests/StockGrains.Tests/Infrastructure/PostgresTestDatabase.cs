using System.Collections.Concurrent;
using Npgsql;

[assembly: AssemblyFixture(typeof(StockGrains.Tests.Infrastructure.PostgresTestDatabases))]

namespace StockGrains.Tests.Infrastructure;

/// <summary>
/// A fresh, empty database on the test PostgreSQL server named by <c>STOCKGRAINS_TEST_POSTGRES</c> (which
/// <c>tests/run-all.sh</c> starts). Without that server the PostgreSQL tests fail: they never skip.
/// </summary>
public static class PostgresTestDatabase
{
    public const string Variable = "STOCKGRAINS_TEST_POSTGRES";

    /// <summary>Set by <c>tests/run-all.sh</c> when it started the server itself and deletes it afterwards.</summary>
    public const string ThrowawayVariable = "STOCKGRAINS_TEST_POSTGRES_THROWAWAY";

    private static readonly ConcurrentQueue<string> Created = new();

    /// <summary>A fresh database; <paramref name="options"/> are added to its <c>CREATE DATABASE</c> (a locale, say).</summary>
    public static async Task<string> CreateAsync(string options = "")
    {
        var server = ServerConnection();
        var name = $"sg_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(server))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\" {options}", connection);
            await command.ExecuteNonQueryAsync();
        }

        Created.Enqueue(name);
        return new NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString;
    }

    /// <summary>Drops one database this class made; sessions still open on it are ended.</summary>
    public static Task DropAsync(string database) => DropNamedAsync(new NpgsqlConnectionStringBuilder(database).Database!);

    private static async Task DropNamedAsync(string name)
    {
        await using var connection = new NpgsqlConnection(ServerConnection());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Drops every database the run made, unless the server is a throwaway one that goes with them: each drop waits for
    /// a checkpoint, and a run makes dozens, so on a server that is deleted anyway they would only cost time.
    /// </summary>
    internal static async Task DropCreatedAsync()
    {
        if (Environment.GetEnvironmentVariable(ThrowawayVariable) == "1")
        {
            return;
        }

        while (Created.TryDequeue(out var name))
        {
            await DropNamedAsync(name);
        }
    }

    /// <summary>The test server's connection string; without one the PostgreSQL tests fail, never skip.</summary>
    public static string ServerConnection()
    {
        var server = Environment.GetEnvironmentVariable(Variable);
        return string.IsNullOrWhiteSpace(server)
            ? throw new InvalidOperationException(
                $"The PostgreSQL tests need a server: set {Variable} to a connection string, or run them through 'bash tests/run-all.sh', which starts one.")
            : server;
    }
}

/// <summary>Lives as long as the test run, and drops the PostgreSQL databases it made when the run ends.</summary>
public sealed class PostgresTestDatabases : IAsyncDisposable
{
    public async ValueTask DisposeAsync() => await PostgresTestDatabase.DropCreatedAsync();
}
