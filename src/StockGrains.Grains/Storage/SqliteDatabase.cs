using System.Reflection;
using Microsoft.Data.Sqlite;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The embedded database: one SQLite file. Creates the file and applies the project's schema scripts at start-up;
/// every script is idempotent, so applying them again on an existing file changes nothing.
/// </summary>
public sealed class SqliteDatabase
{
    public SqliteDatabase(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        ConnectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
    }

    /// <summary>The ADO.NET invariant name of Microsoft.Data.Sqlite, named explicitly: Orleans defaults to SQL Server.</summary>
    public const string Invariant = "Microsoft.Data.Sqlite";

    public string Path { get; }

    public string ConnectionString { get; }

    /// <summary>Creates the folder and the file, switches the file to WAL, and applies every schema script in order.</summary>
    public void Initialize()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        foreach (var script in Scripts("sqlite-"))
        {
            using var transaction = connection.BeginTransaction();
            Execute(connection, script, transaction);
            transaction.Commit();
        }
    }

    /// <summary>
    /// Opens the connection that writes. <c>synchronous=FULL</c> makes every commit fsync the WAL, so an append that
    /// returned is on disk; it is a per-connection setting, hence set here and not once for the file.
    /// </summary>
    public static async Task<SqliteConnection> OpenWriterAsync(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        Execute(connection, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000;");
        return connection;
    }

    /// <summary>Opens a connection for reading.</summary>
    public async Task<SqliteConnection> OpenAsync()
    {
        var connection = new SqliteConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>Opens a connection for a write outside the ledger writer, with the same durability settings.</summary>
    public Task<SqliteConnection> OpenWriterAsync() => OpenWriterAsync(ConnectionString);

    internal static IEnumerable<string> Scripts(string prefix)
    {
        var assembly = typeof(SqliteDatabase).Assembly;
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.Contains($".Sql.{prefix}", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            yield return reader.ReadToEnd();
        }
    }

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
