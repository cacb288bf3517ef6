using Npgsql;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The cluster database: PostgreSQL. Applies the project's numbered schema scripts (<c>postgres-NNN-*.sql</c>) that
/// the database has not recorded yet, under an advisory lock, so several silos starting at once apply each exactly
/// once. <c>synchronous_commit</c> stays on: a commit that returned is on disk.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    /// <summary>The ADO.NET invariant Orleans' providers use for Npgsql.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>Any constant will do, as long as every silo uses the same one.</summary>
    private const long MigrationLock = 0x5354_4f43_4b47_5241;

    /// <param name="connectionString">The database, as Npgsql names it.</param>
    /// <param name="writerConnections">The ledger writers the silo runs, each on a connection of its own.</param>
    public PostgresDatabase(string connectionString, int writerConnections = DefaultWriterConnections)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(writerConnections, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(writerConnections, RelationalLedgerStore.MaxWriters);
        WriterConnections = writerConnections;
        // Neither the store's readers nor Orleans' queries change a session's state, so a connection handed back to
        // the pool needs no DISCARD ALL before its next lease: under load that reset was one more statement per read.
        var reader = new NpgsqlConnectionStringBuilder(connectionString);
        // The setting is left alone when it is configured, under either of its spellings.
        if (!connectionString.Replace(" ", "", StringComparison.Ordinal).Contains("NoResetOnClose", StringComparison.OrdinalIgnoreCase))
        {
            reader.NoResetOnClose = true;
        }

        // The same few reads run thousands of times a second (a new order reads its state, a line its snapshot):
        // prepared on each pooled connection after a second use, they are no longer parsed and planned every time.
        if (reader.MaxAutoPrepare == 0)
        {
            reader.MaxAutoPrepare = PreparedStatements;
            reader.AutoPrepareMinUsages = 2;
        }

        ConnectionString = reader.ConnectionString;
        DataSource = NpgsqlDataSource.Create(ConnectionString);

        // Each ledger writer keeps one connection for the life of the silo and sends the same few statements
        // thousands of times a second, prepared like the reads. Its statements find their rows by key whatever the
        // parameters, so one generic plan serves them all and PostgreSQL stops planning each transaction afresh.
        var writer = new NpgsqlConnectionStringBuilder(reader.ConnectionString);
        writer.Options = string.Join(' ', new[] { writer.Options, "-c plan_cache_mode=force_generic_plan" }.Where(o => !string.IsNullOrEmpty(o)));

        WriterSource = NpgsqlDataSource.Create(writer.ConnectionString);
    }

    /// <summary>
    /// Two writers: while one waits for its commit to reach the disk, the other sends the next transaction. One hot line
    /// is written by one of them either way.
    /// </summary>
    public const int DefaultWriterConnections = 2;

    /// <summary>The ledger writers the silo runs, each on a connection of its own.</summary>
    public int WriterConnections { get; }

    /// <summary>Statements a connection keeps prepared: the store's and Orleans' few queries, with room to spare.</summary>
    private const int PreparedStatements = 32;

    /// <summary>The connection string every reader and Orleans' providers use: the one configured, without the reset on close.</summary>
    public string ConnectionString { get; }

    public NpgsqlDataSource DataSource { get; }

    /// <summary>The ledger writer's connections: the same database, with its statements prepared automatically.</summary>
    public NpgsqlDataSource WriterSource { get; }

    public void Initialize()
    {
        using var connection = DataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, $"SELECT pg_advisory_xact_lock({MigrationLock})");
        Execute(connection, transaction, "CREATE TABLE IF NOT EXISTS stockgrains_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
        foreach (var (version, script) in SchemaScripts.For("postgres-"))
        {
            using var check = new NpgsqlCommand("SELECT COUNT(*) FROM stockgrains_schema WHERE version = @v", connection, transaction);
            check.Parameters.AddWithValue("v", version);
            if ((long)check.ExecuteScalar()! == 0)
            {
                Execute(connection, transaction, script);
                using var record = new NpgsqlCommand("INSERT INTO stockgrains_schema (version) VALUES (@v)", connection, transaction);
                record.Parameters.AddWithValue("v", version);
                record.ExecuteNonQuery();
            }
        }

        transaction.Commit();
    }

    public async ValueTask DisposeAsync()
    {
        await WriterSource.DisposeAsync();
        await DataSource.DisposeAsync();
    }

    private static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }
}
