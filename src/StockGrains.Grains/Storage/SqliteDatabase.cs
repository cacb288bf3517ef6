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

    /// <summary>
    /// The ADO.NET invariant Orleans maps to Microsoft.Data.Sqlite's factory. Named explicitly: Orleans' ADO.NET
    /// providers default to SQL Server, and they know no invariant called "Microsoft.Data.Sqlite".
    /// </summary>
    public const string Invariant = "System.Data.SQLite";

    public string Path { get; }

    public string ConnectionString { get; }

    /// <summary>
    /// Creates the folder and the file, switches the file to WAL, and applies each numbered schema script
    /// (<c>sqlite-NNN-*.sql</c>) that the file has not recorded yet, each in one transaction with its version row.
    /// A script that is already recorded is never run again, so a script may alter tables.
    /// </summary>
    public void Initialize()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        using var connection = new SqliteConnection(ConnectionString);
        connection.Open();
        Execute(connection, "PRAGMA journal_mode=WAL;");
        Execute(connection, "CREATE TABLE IF NOT EXISTS stockgrains_schema (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);");
        foreach (var (version, script) in SchemaScripts.For("sqlite-"))
        {
            // BEGIN IMMEDIATE takes the write lock first, so two processes starting on one file apply a script once.
            using var transaction = connection.BeginTransaction(deferred: false);
            using var check = connection.CreateCommand();
            check.Transaction = transaction;
            check.CommandText = "SELECT COUNT(*) FROM stockgrains_schema WHERE version = $v";
            check.Parameters.AddWithValue("$v", version);
            if ((long)check.ExecuteScalar()! == 0)
            {
                Execute(connection, script, transaction);
                using var record = connection.CreateCommand();
                record.Transaction = transaction;
                record.CommandText = "INSERT INTO stockgrains_schema (version, applied_at) VALUES ($v, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
                record.Parameters.AddWithValue("$v", version);
                record.ExecuteNonQuery();
            }

            transaction.Commit();
        }
    }

    /// <summary>
    /// Opens the connection that writes. <c>synchronous=FULL</c> makes every commit fsync the WAL, so an append that
    /// returned is on disk; it is a per-connection setting, hence set here and not once for the file. The writer isolates
    /// each append in a savepoint, and SQLite keeps a savepoint's journal (each page's content before the append touched
    /// it) in a temporary file unless <c>temp_store=MEMORY</c>: it is thrown away at commit, so it need never be written.
    /// </summary>
    public static async Task<SqliteConnection> OpenWriterAsync(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync();
        Execute(connection, "PRAGMA synchronous=FULL; PRAGMA busy_timeout=30000; PRAGMA temp_store=MEMORY;");
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

    private static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
