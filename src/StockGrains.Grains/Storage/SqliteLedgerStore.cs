using System.Data;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using StockGrains.Stock;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The embedded ledger: one SQLite file in WAL mode with <c>synchronous=FULL</c>. SQLite has one writer, so every
/// append of every line goes through one silo-wide writer loop that coalesces whatever is queued into one
/// transaction: one fsync covers many lines, and a caller is completed only after that commit.
/// </summary>
public sealed partial class SqliteLedgerStore : ILedgerStore, IAsyncDisposable
{
    /// <summary>Appends queued beyond this make callers wait: a bound on memory under overload.</summary>
    public const int QueueCapacity = 10_000;

    /// <summary>Most appends folded into one transaction, so one slow commit never holds an unbounded crowd.</summary>
    public const int MaxAppendsPerTransaction = 512;

    private const string Columns =
        "sequence, kind, quantity, reason, reservation_id, operation_id, actor, reference, at_ticks, on_hand_after, " +
        "reserved_after, committed_after, safety_stock_after, policy_after, expires_at_ticks, fingerprint, note, unit, unit_quantity, " +
        "counted_quantity, count_started_at_sequence, counterparty, approval_id, alert_cause_after";

    private readonly string _connectionString;
    private readonly ILogger<SqliteLedgerStore> _logger;
    private readonly Channel<Append> _queue = Channel.CreateBounded<Append>(
        new BoundedChannelOptions(QueueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    private readonly Task _writer;

    public SqliteLedgerStore(SqliteDatabase database, ILogger<SqliteLedgerStore> logger)
    {
        _connectionString = database.ConnectionString;
        _logger = logger;
        _writer = Task.Factory.StartNew(WriteLoopAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public LedgerStoreCounters Counters { get; } = new();

    public async Task AppendAsync(string line, long expectedSequence, IReadOnlyList<LedgerEntry> entries, CancellationToken cancellationToken = default)
    {
        if (entries.Count == 0)
        {
            return;
        }

        var append = new Append(line, expectedSequence, entries);
        await _queue.Writer.WriteAsync(append, cancellationToken);
        await append.Done.Task;
    }

    public async Task<IReadOnlyList<LedgerEntry>> ReadAsync(string line, long afterSequence, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM stock_ledger WHERE line = $line AND sequence > $after ORDER BY sequence LIMIT $limit";
        command.Parameters.AddWithValue("$line", line);
        command.Parameters.AddWithValue("$after", afterSequence);
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadEntriesAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<LedgerEntry>> FindAsync(string line, string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText =
            $"SELECT {Columns} FROM stock_ledger WHERE line = $line AND (operation_id = $id OR reservation_id = $id OR approval_id = $id) ORDER BY sequence";
        command.Parameters.AddWithValue("$line", line);
        command.Parameters.AddWithValue("$id", id);
        return await ReadEntriesAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<string>> LinesAsync(string afterLine, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT line FROM stock_lines WHERE line > $after ORDER BY line LIMIT $limit";
        command.Parameters.AddWithValue("$after", afterLine);
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadStringsAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<string>> LinesOfSkuAsync(string sku, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT line FROM stock_lines WHERE sku = $sku ORDER BY warehouse LIMIT $limit";
        command.Parameters.AddWithValue("$sku", sku);
        command.Parameters.AddWithValue("$limit", limit);
        return await ReadStringsAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyList<(string Line, LedgerEntry Latest)>> LatestOfSkuAsync(string sku, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText =
            $"SELECT l.line, {Columns} FROM stock_lines s JOIN stock_ledger l ON l.line = s.line " +
            "AND l.sequence = (SELECT MAX(sequence) FROM stock_ledger m WHERE m.line = s.line) WHERE s.sku = $sku ORDER BY s.warehouse LIMIT $limit";
        command.Parameters.AddWithValue("$sku", sku);
        command.Parameters.AddWithValue("$limit", limit);
        var rows = new List<(string, LedgerEntry)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add((reader.GetString(0), ReadEntry(reader, 1)));
        }

        return rows;
    }

    public async Task<IReadOnlyList<OpenAlert>> OpenAlertsAsync(int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var latest = connection.CreateCommand();

        // Only entries written while an alert was open carry alert_cause_after, so the partial index keeps this small.
        latest.CommandText =
            $"SELECT line, {Columns} FROM stock_ledger l WHERE alert_cause_after IS NOT NULL " +
            "AND sequence = (SELECT MAX(sequence) FROM stock_ledger m WHERE m.line = l.line) ORDER BY line LIMIT $limit";
        latest.Parameters.AddWithValue("$limit", limit);
        var rows = new List<(string Line, LedgerEntry Entry)>();
        await using (var reader = await latest.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                rows.Add((reader.GetString(0), ReadEntry(reader, 1)));
            }
        }

        var alerts = new List<OpenAlert>(rows.Count);
        foreach (var (line, entry) in rows)
        {
            var cause = await ReadAsync(line, entry.AlertCauseAfter!.Value - 1, 1, cancellationToken);
            alerts.Add(new OpenAlert(line, entry, cause[0]));
        }

        return alerts;
    }

    public async Task<IReadOnlyList<(string Line, LedgerEntry Request)>> PendingApprovalsAsync(
        string? warehouse, int limit, CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        // Lines of one warehouse are the keys from 'warehouse/' up to 'warehouse0': '0' is the character after '/'.
        command.CommandText =
            $"SELECT line, {Columns} FROM stock_ledger r WHERE kind = 'approval_requested' " +
            "AND ($warehouse IS NULL OR line >= $warehouse || '/' AND line < $warehouse || '0') " +
            "AND NOT EXISTS (SELECT 1 FROM stock_ledger x WHERE x.line = r.line AND x.approval_id = r.approval_id AND x.sequence > r.sequence) " +
            "ORDER BY at_ticks, line LIMIT $limit";
        command.Parameters.AddWithValue("$warehouse", (object?)warehouse ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", limit);
        var rows = new List<(string, LedgerEntry)>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add((reader.GetString(0), ReadEntry(reader, 1)));
        }

        return rows;
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writer;
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<Append>(MaxAppendsPerTransaction);
        SqliteConnection? connection = null;
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxAppendsPerTransaction && _queue.Reader.TryRead(out var append))
            {
                batch.Add(append);
            }

            try
            {
                connection ??= await SqliteDatabase.OpenWriterAsync(_connectionString);
                Write(connection, batch);
                Counters.Committed();
                foreach (var append in batch)
                {
                    if (append.Failure is null)
                    {
                        Counters.Appended(append.Entries.Count);
                        append.Done.TrySetResult();
                    }
                    else
                    {
                        append.Done.TrySetException(append.Failure);
                    }
                }
            }
            catch (Exception ex)
            {
                // The outcome of the whole transaction is unknown to its callers: fail them all and start afresh
                // with a new connection, so a broken handle cannot poison the next batch.
                LogTransactionFailed(ex, batch.Count);
                foreach (var append in batch)
                {
                    append.Done.TrySetException(ex);
                }

                if (connection is not null)
                {
                    await connection.DisposeAsync();
                    connection = null;
                }
            }
        }

        if (connection is not null)
        {
            await connection.DisposeAsync();
        }
    }

    private static void Write(SqliteConnection connection, List<Append> batch)
    {
        using var transaction = connection.BeginTransaction(IsolationLevel.Serializable);
        using var head = connection.CreateCommand();
        head.Transaction = transaction;
        head.CommandText = "SELECT COALESCE(MAX(sequence), 0) FROM stock_ledger WHERE line = $line";
        var headLine = head.Parameters.Add("$line", SqliteType.Text);

        using var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText =
            $"INSERT INTO stock_ledger (line, {Columns}) VALUES ($line, $sequence, $kind, $quantity, $reason, $reservation_id, " +
            "$operation_id, $actor, $reference, $at, $on_hand, $reserved, $committed, $safety, $policy, $expires, $fingerprint, $note, $unit, " +
            "$unit_quantity, $counted, $count_start, $counterparty, $approval_id, $alert)";
        var p = new Dictionary<string, SqliteParameter>();
        foreach (var name in new[]
                 {
                     "$line", "$sequence", "$kind", "$quantity", "$reason", "$reservation_id", "$operation_id", "$actor", "$reference",
                     "$at", "$on_hand", "$reserved", "$committed", "$safety", "$policy", "$expires", "$fingerprint", "$note", "$unit",
                     "$unit_quantity", "$counted", "$count_start", "$counterparty", "$approval_id", "$alert",
                 })
        {
            p[name] = insert.Parameters.Add(name, SqliteType.Text);
        }

        // Each statement is its own prepared command: changing a command's text would compile it again every time.
        using var savepoint = Prepared(connection, transaction, "SAVEPOINT append");
        using var release = Prepared(connection, transaction, "RELEASE append");
        using var rollback = Prepared(connection, transaction, "ROLLBACK TO append");
        using var lineRow = Prepared(connection, transaction,
            "INSERT OR IGNORE INTO stock_lines (line, warehouse, sku) VALUES ($line, substr($line, 1, instr($line, '/') - 1), substr($line, instr($line, '/') + 1))");
        lineRow.Parameters.Add("$line", SqliteType.Text);

        foreach (var append in batch)
        {
            headLine.Value = append.Line;
            var current = (long)head.ExecuteScalar()!;
            if (current != append.ExpectedSequence)
            {
                append.Failure = new LedgerConflictException(
                    $"Line {append.Line} is at sequence {current}, not {append.ExpectedSequence}: another writer appended first.");
                continue;
            }

            savepoint.ExecuteNonQuery();
            try
            {
                if (append.ExpectedSequence == 0)
                {
                    lineRow.Parameters["$line"].Value = append.Line;
                    lineRow.ExecuteNonQuery();
                }

                foreach (var e in append.Entries)
                {
                    p["$line"].Value = append.Line;
                    p["$sequence"].Value = e.Sequence;
                    p["$kind"].Value = LedgerFormat.Kind(e.Kind);
                    p["$quantity"].Value = e.Quantity;
                    p["$reason"].Value = (object?)e.Reason ?? DBNull.Value;
                    p["$reservation_id"].Value = (object?)e.ReservationId ?? DBNull.Value;
                    p["$operation_id"].Value = e.OperationId;
                    p["$actor"].Value = e.Actor;
                    p["$reference"].Value = (object?)e.Reference ?? DBNull.Value;
                    p["$at"].Value = LedgerFormat.Ticks(e.At);
                    p["$on_hand"].Value = e.OnHandAfter;
                    p["$reserved"].Value = e.ReservedAfter;
                    p["$committed"].Value = e.CommittedAfter;
                    p["$safety"].Value = e.SafetyStockAfter;
                    p["$policy"].Value = LedgerFormat.Policy(e.PolicyAfter);
                    p["$expires"].Value = e.ExpiresAt is { } x ? LedgerFormat.Ticks(x) : DBNull.Value;
                    p["$fingerprint"].Value = e.Fingerprint;
                    p["$note"].Value = (object?)e.Note ?? DBNull.Value;
                    p["$unit"].Value = (object?)e.Unit ?? DBNull.Value;
                    p["$unit_quantity"].Value = (object?)e.UnitQuantity ?? DBNull.Value;
                    p["$counted"].Value = (object?)e.CountedQuantity ?? DBNull.Value;
                    p["$count_start"].Value = (object?)e.CountStartedAtSequence ?? DBNull.Value;
                    p["$counterparty"].Value = (object?)e.Counterparty ?? DBNull.Value;
                    p["$approval_id"].Value = (object?)e.ApprovalId ?? DBNull.Value;
                    p["$alert"].Value = (object?)e.AlertCauseAfter ?? DBNull.Value;
                    insert.ExecuteNonQuery();
                }

                release.ExecuteNonQuery();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
            {
                // A constraint refused the append (a sequence or operation id already taken): undo only this append.
                rollback.ExecuteNonQuery();
                release.ExecuteNonQuery();
                append.Failure = new LedgerConflictException($"Line {append.Line}: {ex.Message}");
            }
        }

        transaction.Commit();
    }

    private static SqliteCommand Prepared(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }

    private static async Task<IReadOnlyList<LedgerEntry>> ReadEntriesAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var entries = new List<LedgerEntry>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(ReadEntry(reader, 0));
        }

        return entries;
    }

    private static async Task<IReadOnlyList<string>> ReadStringsAsync(SqliteCommand command, CancellationToken cancellationToken)
    {
        var values = new List<string>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    /// <summary>Reads one entry whose <see cref="Columns"/> start at column <paramref name="o"/>.</summary>
    private static LedgerEntry ReadEntry(SqliteDataReader reader, int o) =>
        new(
            Sequence: reader.GetInt64(o),
            Kind: LedgerFormat.ParseKind(reader.GetString(o + 1)),
            Quantity: reader.GetInt64(o + 2),
            Reason: reader.IsDBNull(o + 3) ? null : reader.GetString(o + 3),
            ReservationId: reader.IsDBNull(o + 4) ? null : reader.GetString(o + 4),
            OperationId: reader.GetString(o + 5),
            Actor: reader.GetString(o + 6),
            Reference: reader.IsDBNull(o + 7) ? null : reader.GetString(o + 7),
            At: LedgerFormat.Time(reader.GetInt64(o + 8)),
            OnHandAfter: reader.GetInt64(o + 9),
            ReservedAfter: reader.GetInt64(o + 10),
            CommittedAfter: reader.GetInt64(o + 11),
            SafetyStockAfter: reader.GetInt64(o + 12),
            PolicyAfter: LedgerFormat.ParsePolicy(reader.GetString(o + 13)),
            ExpiresAt: reader.IsDBNull(o + 14) ? null : LedgerFormat.Time(reader.GetInt64(o + 14)),
            Fingerprint: reader.GetString(o + 15))
        {
            Note = reader.IsDBNull(o + 16) ? null : reader.GetString(o + 16),
            Unit = reader.IsDBNull(o + 17) ? null : reader.GetString(o + 17),
            UnitQuantity = reader.IsDBNull(o + 18) ? null : reader.GetInt64(o + 18),
            CountedQuantity = reader.IsDBNull(o + 19) ? null : reader.GetInt64(o + 19),
            CountStartedAtSequence = reader.IsDBNull(o + 20) ? null : reader.GetInt64(o + 20),
            Counterparty = reader.IsDBNull(o + 21) ? null : reader.GetString(o + 21),
            ApprovalId = reader.IsDBNull(o + 22) ? null : reader.GetString(o + 22),
            AlertCauseAfter = reader.IsDBNull(o + 23) ? null : reader.GetInt64(o + 23),
        };

    [LoggerMessage(Level = LogLevel.Error, Message = "A ledger transaction of {Appends} appends failed; every caller in it is told the outcome is unknown.")]
    private partial void LogTransactionFailed(Exception exception, int appends);

    private sealed class Append(string line, long expectedSequence, IReadOnlyList<LedgerEntry> entries)
    {
        public string Line { get; } = line;

        public long ExpectedSequence { get; } = expectedSequence;

        public IReadOnlyList<LedgerEntry> Entries { get; } = entries;

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Exception? Failure { get; set; }
    }
}
