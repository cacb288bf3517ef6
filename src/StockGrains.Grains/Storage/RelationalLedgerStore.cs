using System.Data;
using System.Data.Common;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StockGrains.Stock;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The ledger on a relational database, for every dialect. Every append of every line, and every write of an order's
/// state, goes through a silo-wide writer loop that folds whatever is queued into one transaction: one commit (one
/// fsync) covers many lines and orders, and a caller is completed only after that commit. A dialect may run several
/// loops, each on its own connection, with each line and grain state always on the same one. Within the transaction each
/// append checks the fence — the line must be at the expected sequence — inside its own savepoint, and each state
/// write names the version it replaces, so one stale writer fails alone.
/// </summary>
public abstract partial class RelationalLedgerStore : ILedgerStore, IAsyncDisposable
{
    /// <summary>Writes queued beyond this, shared out evenly among the writers, make callers wait: a bound on memory under overload.</summary>
    public const int QueueCapacity = 10_000;

    /// <summary>Most writes (appends and states) folded into one transaction, so one slow commit never holds an unbounded crowd.</summary>
    public const int MaxAppendsPerTransaction = 512;

    /// <summary>Lookups queued beyond this make callers wait.</summary>
    public const int LookupQueueCapacity = 10_000;

    /// <summary>Most ids one lookup query asks for: a hot line that has forgotten old operations asks for dozens at once.</summary>
    public const int MaxLookupsPerQuery = 256;

    /// <summary>Lookup queries running at once: one gathers the ids that arrive while the other is answered.</summary>
    public const int ConcurrentLookupQueries = 2;

    /// <summary>
    /// Every ledger column after <c>line</c>, in the order <see cref="Columns"/> lists them and reads return them, and how
    /// an entry fills it: the one place that maps an entry to a row. A column's parameter has the column's name.
    /// </summary>
    protected static readonly LedgerColumn[] LedgerColumns =
    [
        LedgerColumn.Number("sequence", e => e.Sequence),
        LedgerColumn.Text("kind", e => LedgerFormat.Kind(e.Kind)),
        LedgerColumn.Number("quantity", e => e.Quantity),
        LedgerColumn.Text("reason", e => e.Reason),
        LedgerColumn.Text("reservation_id", e => e.ReservationId),
        LedgerColumn.Text("operation_id", e => e.OperationId),
        LedgerColumn.Text("actor", e => e.Actor),
        LedgerColumn.Text("reference", e => e.Reference),
        LedgerColumn.Number("at_ticks", e => LedgerFormat.Ticks(e.At)),
        LedgerColumn.Number("on_hand_after", e => e.OnHandAfter),
        LedgerColumn.Number("reserved_after", e => e.ReservedAfter),
        LedgerColumn.Number("committed_after", e => e.CommittedAfter),
        LedgerColumn.Number("safety_stock_after", e => e.SafetyStockAfter),
        LedgerColumn.Text("policy_after", e => LedgerFormat.Policy(e.PolicyAfter)),
        LedgerColumn.Number("expires_at_ticks", e => e.ExpiresAt is { } x ? LedgerFormat.Ticks(x) : null),
        LedgerColumn.Text("fingerprint", e => e.Fingerprint),
        LedgerColumn.Text("note", e => e.Note),
        LedgerColumn.Text("unit", e => e.Unit),
        LedgerColumn.Number("unit_quantity", e => e.UnitQuantity),
        LedgerColumn.Number("counted_quantity", e => e.CountedQuantity),
        LedgerColumn.Number("count_started_at_sequence", e => e.CountStartedAtSequence),
        LedgerColumn.Text("counterparty", e => e.Counterparty),
        LedgerColumn.Text("approval_id", e => e.ApprovalId),
        LedgerColumn.Number("alert_cause_after", e => e.AlertCauseAfter),
    ];

    protected static readonly string Columns = string.Join(", ", LedgerColumns.Select(c => c.Name));

    private static readonly string[] InsertParameters = ["line", .. LedgerColumns.Select(c => c.Name)];

    private readonly ILogger _logger;
    private readonly WriterLane[] _lanes;
    private readonly Lazy<Task> _writers;
    private readonly QueryGatherer<(string Line, string Id), IReadOnlyList<LedgerEntry>> _lookups;
    private readonly QueryGatherer<string, StoredGrainState?> _stateReads;

    /// <param name="logger">The store's log.</param>
    /// <param name="writers">
    /// Writer loops, each with its own queue, thread and connection (1 to <see cref="MaxWriters"/>). A line's appends and a
    /// grain's states always go to the same one, chosen by the line or the grain, so each keeps the order one writer gives
    /// them; different lines commit side by side.
    /// </param>
    protected RelationalLedgerStore(ILogger logger, int writers = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(writers, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(writers, MaxWriters);
        _logger = logger;
        _lanes = Enumerable.Range(0, writers).Select(i => new WriterLane(i, QueueCapacity / writers)).ToArray();
        // Each writer runs on a thread of its own (a long-running task). It spends its life in synchronous database calls,
        // which would hold a thread-pool thread each time and make the pool inject more; and the silo's throughput on one
        // hot line is the rate of its writer's loop, so it should not queue behind grain work for a pool thread after every wait.
        _writers = new Lazy<Task>(
            () => Task.WhenAll(_lanes.Select(lane =>
                Task.Factory.StartNew(() => WriteLoop(lane), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default))),
            LazyThreadSafetyMode.ExecutionAndPublication);
        _lookups = new(LookupQueueCapacity, MaxLookupsPerQuery, ConcurrentLookupQueries,
            lookups => FindManyAsync(lookups, CancellationToken.None), Counters.LookedUp);
        _stateReads = new(LookupQueueCapacity, MaxLookupsPerQuery, ConcurrentLookupQueries, ids => ReadGrainStatesAsync(ids, CancellationToken.None));
    }

    /// <summary>Most writer loops a store runs: each holds a database connection and a thread for the life of the silo.</summary>
    public const int MaxWriters = 8;

    public LedgerStoreCounters Counters { get; } = new();

    /// <summary>Opens a connection for reading.</summary>
    protected abstract Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken);

    /// <summary>Opens the writer's connection, with whatever the dialect needs for a commit to be durable.</summary>
    protected abstract Task<DbConnection> OpenWriterAsync();

    /// <summary>Begins the writer's transaction (SQLite takes its write lock up front).</summary>
    protected virtual DbTransaction BeginWrite(DbConnection connection) => connection.BeginTransaction(IsolationLevel.ReadCommitted);

    /// <summary>True when the exception is a unique-constraint violation: another writer took the sequence or the id.</summary>
    protected abstract bool IsUniqueViolation(Exception exception);

    public async Task AppendAsync(string line, long expectedSequence, IReadOnlyList<LedgerEntry> entries, ExpiryUpdate? expiry = null,
        string? previousOperationId = null, CancellationToken cancellationToken = default)
    {
        if (entries.Count == 0 && expiry is null)
        {
            return;
        }

        using var activity = StockGrainsTelemetry.ActivitySource.StartActivity("ledger append");
        activity?.SetTag("stockgrains.line", line);
        activity?.SetTag("stockgrains.entries", entries.Count);
        await WriteAsync(new Append(line, expectedSequence, entries, expiry, previousOperationId), cancellationToken);
    }

    public ILedgerAppend BeginAppend(string line, long expectedSequence, LedgerEntry first, ExpiryUpdate? expiry = null, string? previousOperationId = null)
    {
        // The append outlives this call, so its activity must not become the caller's current one.
        var caller = Activity.Current;
        var activity = StockGrainsTelemetry.ActivitySource.StartActivity("ledger append");
        Activity.Current = caller;
        activity?.SetTag("stockgrains.line", line);
        var append = new Append(line, expectedSequence, [first], expiry, previousOperationId) { Activity = activity };
        _ = QueueAsync(append, CancellationToken.None);
        return append;
    }

    public async Task<long> WriteGrainStateAsync(string id, long? expectedVersion, byte[]? payload, CancellationToken cancellationToken = default)
    {
        await WriteAsync(new StateWrite(id, expectedVersion, payload), cancellationToken);
        return (expectedVersion ?? 0) + 1;
    }

    /// <summary>
    /// Queues a write for its writer (the one its line or grain always goes to) and waits until its transaction has
    /// committed. The writers start on first use, exactly once however many callers arrive together, so a subclass is
    /// fully constructed before they run.
    /// </summary>
    private async Task WriteAsync(PendingWrite write, CancellationToken cancellationToken)
    {
        await QueueAsync(write, cancellationToken);
        await write.Done.Task;
    }

    /// <summary>Hands a write to the writer, waiting while the queue is full; a write that cannot be queued fails its caller.</summary>
    private async Task QueueAsync(PendingWrite write, CancellationToken cancellationToken)
    {
        _ = _writers.Value;
        try
        {
            await LaneOf(write.Key).Queue.Writer.WriteAsync(write, cancellationToken);
        }
        catch (Exception ex)
        {
            write.Done.TrySetException(ex);
        }
    }

    private WriterLane LaneOf(string key) => _lanes[WriterOf(key, _lanes.Length)];

    /// <summary>
    /// The writer of a line or a grain state: always the same one for the same key, so its writes are committed in the
    /// order they were queued, and every line's fence sees the entries it follows committed. A hash of the key's
    /// characters (FNV-1a), the same in every process, so that a test can pick lines that share a writer or do not.
    /// </summary>
    internal static int WriterOf(string key, int writers)
    {
        if (writers == 1)
        {
            return 0;
        }

        var hash = 2_166_136_261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16_777_619u;
        }

        return (int)(hash % (uint)writers);
    }

    /// <summary>
    /// Reads the state together with whatever other reads are queued. Every new order is a new grain whose activation
    /// reads its state, almost always to find none: at thousands of checkouts a second, a query each cost the database
    /// a statement and the silo a connection, a command and a reader per order.
    /// </summary>
    public Task<StoredGrainState?> ReadGrainStateAsync(string id, CancellationToken cancellationToken = default) =>
        _stateReads.AskAsync(id, cancellationToken);

    /// <summary>
    /// The state of each id, or null where there is none, in the order asked. The default asks one query per id on one
    /// connection, which suits an embedded database with no round trip to save; a server's dialect asks once.
    /// </summary>
    protected virtual async Task<IReadOnlyList<StoredGrainState?>> ReadGrainStatesAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version, payload FROM grain_states WHERE id = @id";
        var id = AddParameter(command, "id", "");
        var states = new StoredGrainState?[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            id.Value = ids[i];
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            states[i] = await reader.ReadAsync(cancellationToken) ? ReadState(reader, 0) : null;
        }

        return states;
    }

    /// <summary>A grain state whose version and payload start at column <paramref name="o"/>.</summary>
    protected static StoredGrainState ReadState(DbDataReader reader, int o) =>
        new(reader.GetInt64(o), reader.IsDBNull(o + 1) ? null : (byte[])reader.GetValue(o + 1));

    public async Task<IReadOnlyList<string>> DueLinesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default) =>
        await QueryAsync("SELECT line FROM stock_lines WHERE next_expiry <= @now ORDER BY next_expiry LIMIT @limit", r => r.GetString(0),
            cancellationToken, ("now", LedgerFormat.Ticks(now)), ("limit", limit));

    public Task<IReadOnlyList<LedgerEntry>> ReadAsync(string line, long afterSequence, int limit, CancellationToken cancellationToken = default) =>
        QueryEntriesAsync($"SELECT {Columns} FROM stock_ledger WHERE line = @line AND sequence > @after ORDER BY sequence LIMIT @limit",
            cancellationToken, ("line", line), ("after", afterSequence), ("limit", limit));

    /// <summary>
    /// Looks the id up together with whatever other lookups are queued, of this line and others. A line that has
    /// forgotten old operations must look up every id it does not know before it decides, which is every new
    /// reservation: one query each would cost a hot line a round trip per checkout, and the database a query per
    /// checkout; gathered, dozens of ids share one.
    /// </summary>
    public Task<IReadOnlyList<LedgerEntry>> FindAsync(string line, string id, CancellationToken cancellationToken = default) =>
        _lookups.AskAsync((line, id), cancellationToken);

    /// <summary>
    /// Every entry of each (line, id), oldest first, in the order asked. The default asks one query per id on one
    /// connection, which suits an embedded database with no round trip to save; a server's dialect asks once.
    /// </summary>
    protected virtual async Task<IReadOnlyList<IReadOnlyList<LedgerEntry>>> FindManyAsync(IReadOnlyList<(string Line, string Id)> lookups,
        CancellationToken cancellationToken)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = FindOneSql;
        var line = AddParameter(command, "line", "");
        var id = AddParameter(command, "id", "");
        var found = new IReadOnlyList<LedgerEntry>[lookups.Count];
        for (var i = 0; i < lookups.Count; i++)
        {
            (line.Value, id.Value) = lookups[i];
            var entries = new List<LedgerEntry>();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                while (await reader.ReadAsync(cancellationToken))
                {
                    entries.Add(ReadEntry(reader, 0));
                }
            }

            found[i] = entries;
        }

        return found;
    }

    /// <summary>
    /// The entries of one id on a line: its own operation, the later entries of a reservation (whose first entry carries
    /// the reservation id as its operation id), and the resolutions of an approval. Each kind is found through its own
    /// index, by sequence, before the rows are read by key: written as one condition with <c>OR</c>, SQLite's planner,
    /// which has no statistics, read every entry of the line instead, and a hot line that had forgotten old holds then
    /// took about 100 ms a lookup.
    /// </summary>
    internal static readonly string FindOneSql =
        $"SELECT {Columns} FROM stock_ledger WHERE line = @line AND sequence IN (" +
        "SELECT sequence FROM stock_ledger WHERE line = @line AND operation_id = @id UNION ALL " +
        "SELECT sequence FROM stock_ledger WHERE line = @line AND reservation_id = @id AND reservation_id <> operation_id UNION ALL " +
        "SELECT sequence FROM stock_ledger WHERE line = @line AND approval_id = @id) ORDER BY sequence";

    public async Task<IReadOnlyList<string>> LinesAsync(string afterLine, int limit, CancellationToken cancellationToken = default) =>
        (await QueryAsync("SELECT line FROM stock_lines WHERE line > @after ORDER BY line LIMIT @limit", r => r.GetString(0), cancellationToken,
            ("after", afterLine), ("limit", limit))).ToList();

    public async Task<IReadOnlyList<string>> LinesOfSkuAsync(string sku, int limit, CancellationToken cancellationToken = default) =>
        (await QueryAsync("SELECT line FROM stock_lines WHERE sku = @sku ORDER BY warehouse LIMIT @limit", r => r.GetString(0), cancellationToken,
            ("sku", sku), ("limit", limit))).ToList();

    public Task<IReadOnlyList<(string Line, LedgerEntry Latest)>> LatestOfSkuAsync(string sku, int limit, CancellationToken cancellationToken = default)
    {
        Counters.ReadSku();
        return QueryAsync(
            $"SELECT l.line, {Prefixed("l")} FROM stock_lines s JOIN stock_ledger l ON l.line = s.line " +
            "AND l.sequence = (SELECT MAX(sequence) FROM stock_ledger m WHERE m.line = s.line) WHERE s.sku = @sku ORDER BY s.warehouse LIMIT @limit",
            r => (r.GetString(0), ReadEntry(r, 1)), cancellationToken, ("sku", sku), ("limit", limit));
    }

    public async Task<IReadOnlyList<OpenAlert>> OpenAlertsAsync(int limit, CancellationToken cancellationToken = default)
    {
        // Only entries written while an alert was open carry alert_cause_after, so the partial index keeps this small.
        var rows = await QueryAsync(
            $"SELECT line, {Columns} FROM stock_ledger l WHERE alert_cause_after IS NOT NULL " +
            "AND sequence = (SELECT MAX(sequence) FROM stock_ledger m WHERE m.line = l.line) ORDER BY line LIMIT @limit",
            r => (Line: r.GetString(0), Entry: ReadEntry(r, 1)), cancellationToken, ("limit", limit));
        var alerts = new List<OpenAlert>(rows.Count);
        foreach (var (line, entry) in rows)
        {
            var cause = await ReadAsync(line, entry.AlertCauseAfter!.Value - 1, 1, cancellationToken);
            alerts.Add(new OpenAlert(line, entry, cause[0]));
        }

        return alerts;
    }

    public Task<IReadOnlyList<(string Line, LedgerEntry Request)>> PendingApprovalsAsync(
        string? warehouse, int limit, CancellationToken cancellationToken = default) =>
        // Lines of one warehouse are the keys from 'warehouse/' up to 'warehouse0': '0' is the character after '/'.
        QueryAsync(
            $"SELECT line, {Columns} FROM stock_ledger r WHERE kind = 'approval_requested' " +
            "AND (@from = '' OR (line >= @from AND line < @to)) " +
            "AND NOT EXISTS (SELECT 1 FROM stock_ledger x WHERE x.line = r.line AND x.approval_id = r.approval_id AND x.sequence > r.sequence) " +
            "ORDER BY at_ticks, line LIMIT @limit",
            r => (r.GetString(0), ReadEntry(r, 1)), cancellationToken,
            ("from", warehouse is null ? "" : warehouse + "/"), ("to", warehouse is null ? "" : warehouse + "0"), ("limit", limit));

    public async Task CheckAsync(CancellationToken cancellationToken = default) =>
        await QueryAsync("SELECT COUNT(*) FROM stock_lines WHERE line = @line", r => r.GetInt64(0), cancellationToken, ("line", ""));

    public async ValueTask DisposeAsync()
    {
        foreach (var lane in _lanes)
        {
            lane.Queue.Writer.TryComplete();
        }

        if (_writers.IsValueCreated)
        {
            await _writers.Value;
        }

        await _lookups.CompleteAsync();
        await _stateReads.CompleteAsync();

        GC.SuppressFinalize(this);
    }

    private static string Prefixed(string alias) => string.Join(", ", Columns.Split(", ").Select(c => $"{alias}.{c}"));

    private async Task<IReadOnlyList<LedgerEntry>> QueryEntriesAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters) =>
        await QueryAsync(sql, r => ReadEntry(r, 0), cancellationToken, parameters);

    private async Task<IReadOnlyList<T>> QueryAsync<T>(
        string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenReaderAsync(cancellationToken);
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            AddParameter(command, name, value);
        }

        var rows = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>A parameter whose type follows its value: text, a 32-bit or a 64-bit integer.</summary>
    private static DbParameter AddParameter(DbCommand command, string name, object value) =>
        AddParameter(command, name, value switch
        {
            string => DbType.String,
            int => DbType.Int32,
            _ => DbType.Int64,
        }, value);

    /// <summary>
    /// Every parameter is named as the statements name it, with its <c>@</c>: Microsoft.Data.Sqlite binds a bare name by
    /// trying each of SQLite's three prefixes in turn, on every execution, and on a hot line that search was about a
    /// sixth of the writer's time.
    /// </summary>
    private static DbParameter AddParameter(DbCommand command, string name, DbType type, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@" + name;
        parameter.DbType = type;
        parameter.Value = value;
        command.Parameters.Add(parameter);
        return parameter;
    }

    /// <summary>The writer threads' name, as tools such as <c>top -H</c> show it (Linux keeps 15 characters), with the writer's number.</summary>
    private const string WriterThreadName = "ledger writer";

    private void WriteLoop(WriterLane lane)
    {
        Thread.CurrentThread.Name = _lanes.Length == 1 ? WriterThreadName : $"{WriterThreadName} {lane.Index + 1}";
        var batch = new List<PendingWrite>(MaxAppendsPerTransaction);
        DbConnection? connection = null;
        while (WaitForWrites(lane))
        {
            batch.Clear();
            while (batch.Count < MaxAppendsPerTransaction && lane.Queue.Reader.TryRead(out var write))
            {
                // From here on the append's entries are fixed: whatever its line decides next starts another append.
                (write as Append)?.Take();
                batch.Add(write);
            }

            Counters.Writing(batch.Count);
            try
            {
                connection ??= OpenWriterAsync().GetAwaiter().GetResult();
                Write(lane.Index, connection, batch);
                Counters.Committed();
                foreach (var write in batch)
                {
                    if (write.Failure is null)
                    {
                        if (write is Append append)
                        {
                            Counters.Appended(append.Entries.Count);
                        }

                        write.Done.TrySetResult();
                    }
                    else
                    {
                        write.Done.TrySetException(write.Failure);
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

                connection?.Dispose();
                connection = null;
            }

            Counters.Writing(-batch.Count);
            foreach (var write in batch)
            {
                if (write is Append { Activity: { } activity } append)
                {
                    activity.SetTag("stockgrains.entries", append.Entries.Count);
                    activity.Dispose();
                }
            }
        }

        lane.Commands?.Dispose();
        connection?.Dispose();
    }

    /// <summary>Blocks the writer's own thread until a write is queued; false once the store is disposed and drained.</summary>
    private static bool WaitForWrites(WriterLane lane)
    {
        var wait = lane.Queue.Reader.WaitToReadAsync();
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    /// <summary>
    /// Writes one transaction of appends and grain states and commits it, setting <see cref="PendingWrite.Failure"/> on
    /// each write that lost its fence. The generic form checks each append's head and isolates it in a savepoint, a few
    /// statements per append; a dialect may send the whole batch at once and fall back to this when one is refused.
    /// </summary>
    protected virtual void Write(int writer, DbConnection connection, IReadOnlyList<PendingWrite> batch)
    {
        var lane = _lanes[writer];
        if (lane.Commands?.Connection != connection)
        {
            lane.Commands?.Dispose();
            lane.Commands = new WriterCommands(connection);
        }

        using var transaction = BeginWrite(connection);
        var commands = lane.Commands;
        DbCommand Prepared(string sql, params string[] parameters) =>
            commands.Get(sql, transaction, () => Command(connection, transaction, sql, parameters));

        WriteStates(batch.OfType<StateWrite>(), Prepared);
        var head = Prepared("SELECT COALESCE(MAX(sequence), 0) FROM stock_ledger WHERE line = @line", "line");
        // The predecessor's look names its whole key on both unique indexes: with the line and sequence alone, a generic
        // plan made while the ledger was empty may take the operation-id index on the line and read all of its entries.
        var previous = Prepared(
            "SELECT COUNT(*) FROM stock_ledger WHERE line = @line AND sequence = @sequence AND operation_id = @operation_id", "line", "sequence", "operation_id");

        // Each statement is its own command: changing a command's text would compile it again every time.
        var savepoint = Prepared("SAVEPOINT append");
        var release = Prepared("RELEASE SAVEPOINT append");
        var rollback = Prepared("ROLLBACK TO SAVEPOINT append");
        var lineRow = Prepared(
            "INSERT INTO stock_lines (line, warehouse, sku) VALUES (@line, @warehouse, @sku) ON CONFLICT DO NOTHING", "line", "warehouse", "sku");
        var expiryRow = Prepared("UPDATE stock_lines SET next_expiry = @at WHERE line = @line", "at", "line");

        foreach (var append in batch.OfType<Append>())
        {
            head.Parameters["@line"].Value = append.Line;
            var current = Convert.ToInt64(head.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            if (current != append.ExpectedSequence)
            {
                append.Failure = new LedgerConflictException(
                    $"Line {append.Line} is at sequence {current}, not {append.ExpectedSequence}: another writer appended first.");
                continue;
            }

            if (append.PreviousOperationId is { } predecessor)
            {
                previous.Parameters["@line"].Value = append.Line;
                previous.Parameters["@sequence"].Value = append.ExpectedSequence;
                previous.Parameters["@operation_id"].Value = predecessor;
                if (Convert.ToInt64(previous.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 1)
                {
                    append.Failure = new LedgerConflictException(
                        $"Line {append.Line} is at sequence {current}, but that entry is not '{predecessor}': the append it follows lost the fence.");
                    continue;
                }
            }

            savepoint.ExecuteNonQuery();
            try
            {
                if (append.ExpectedSequence == 0)
                {
                    var key = StockKey.Parse(append.Line);
                    lineRow.Parameters["@line"].Value = append.Line;
                    lineRow.Parameters["@warehouse"].Value = key.Warehouse;
                    lineRow.Parameters["@sku"].Value = key.Sku;
                    lineRow.ExecuteNonQuery();
                }

                foreach (var chunk in append.Entries.Chunk(MaxRowsPerInsert))
                {
                    // One multi-row INSERT per chunk: one round trip carries many entries (a remote database pays per
                    // statement), and a command per chunk size is compiled once for the connection.
                    var insert = commands.Insert(chunk.Length, transaction, () => MultiRowInsert(connection, transaction, chunk.Length));

                    for (var row = 0; row < chunk.Length; row++)
                    {
                        Bind(insert.Parameters, row, append.Line, chunk[row]);
                    }

                    insert.ExecuteNonQuery();
                }

                if (append.Expiry is { } expiry)
                {
                    expiryRow.Parameters["@at"].Value = expiry.At is { } at ? LedgerFormat.Ticks(at) : DBNull.Value;
                    expiryRow.Parameters["@line"].Value = append.Line;
                    expiryRow.ExecuteNonQuery();
                }

                release.ExecuteNonQuery();
            }
            catch (Exception ex) when (IsUniqueViolation(ex))
            {
                // A constraint refused the append (a sequence or operation id already taken): undo only this append.
                rollback.ExecuteNonQuery();
                release.ExecuteNonQuery();
                append.Failure = new LedgerConflictException($"Line {append.Line}: {ex.Message}");
            }
        }

        transaction.Commit();
    }

    /// <summary>
    /// Rows per INSERT statement. A remote database pays a round trip per statement, so many rows per statement win;
    /// 64 rows of 25 parameters stay far below every dialect's parameter limit.
    /// </summary>
    protected virtual int MaxRowsPerInsert => 64;

    private DbCommand MultiRowInsert(DbConnection connection, DbTransaction transaction, int rows)
    {
        var values = Enumerable.Range(0, rows).Select(r => "(" + string.Join(", ", InsertParameters.Select(p => $"@{p}_{r}")) + ")");
        return Command(connection, transaction, $"INSERT INTO stock_ledger (line, {Columns}) VALUES {string.Join(", ", values)}",
            Enumerable.Range(0, rows).SelectMany(r => InsertParameters.Select(p => $"{p}_{r}")).ToArray());
    }

    /// <summary>
    /// Fills one row of a multi-row INSERT. Its parameters were added row by row in <see cref="InsertParameters"/>
    /// order, so they are found by position: a name per column per row would be formatted, then searched for.
    /// </summary>
    private static void Bind(DbParameterCollection parameters, int row, string line, LedgerEntry e)
    {
        var first = row * InsertParameters.Length;
        parameters[first].Value = line;
        for (var i = 0; i < LedgerColumns.Length; i++)
        {
            var column = LedgerColumns[i];
            parameters[first + 1 + i].Value = column.IsText ? column.TextOf(e) ?? (object)DBNull.Value : column.NumberOf(e) ?? (object)DBNull.Value;
        }
    }

    /// <summary>A command with typed parameters: text for names and words, 64-bit integers for the rest.</summary>
    private static DbCommand Command(DbConnection connection, DbTransaction transaction, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            AddParameter(command, name, name == "payload" ? DbType.Binary : TextParameters.Contains(ColumnOf(name)) ? DbType.String : DbType.Int64,
                DBNull.Value);
        }

        return command;
    }

    /// <summary>The column a parameter binds: its name without a multi-row suffix (<c>actor_3</c> → <c>actor</c>).</summary>
    private static string ColumnOf(string parameter)
    {
        var suffix = parameter.LastIndexOf('_');
        return suffix > 0 && parameter[(suffix + 1)..].All(char.IsDigit) ? parameter[..suffix] : parameter;
    }

    private static readonly HashSet<string> TextParameters =
        ["line", "warehouse", "sku", "id", .. LedgerColumns.Where(c => c.IsText).Select(c => c.Name)];

    /// <summary>Reads one entry whose <see cref="Columns"/> start at column <paramref name="o"/>.</summary>
    protected static LedgerEntry ReadEntry(DbDataReader reader, int o) =>
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

    /// <summary>One column of the ledger: a text or a 64-bit integer, read off an entry.</summary>
    protected sealed class LedgerColumn
    {
        private readonly Func<LedgerEntry, string?>? _text;
        private readonly Func<LedgerEntry, long?>? _number;

        private LedgerColumn(string name, Func<LedgerEntry, string?>? text, Func<LedgerEntry, long?>? number) =>
            (Name, _text, _number) = (name, text, number);

        public string Name { get; }

        public bool IsText => _text is not null;

        public static LedgerColumn Text(string name, Func<LedgerEntry, string?> value) => new(name, value, null);

        public static LedgerColumn Number(string name, Func<LedgerEntry, long?> value) => new(name, null, value);

        public string? TextOf(LedgerEntry entry) => _text!(entry);

        public long? NumberOf(LedgerEntry entry) => _number!(entry);
    }

    /// <summary>
    /// The grain states: a first write inserts version 1 unless the id exists, a later one replaces the version it read.
    /// Neither statement can raise an error, so no savepoint is needed; a write that changes no row lost its fence.
    /// </summary>
    private static void WriteStates(IEnumerable<StateWrite> writes, Func<string, string[], DbCommand> prepared)
    {
        foreach (var write in writes)
        {
            var command = write.ExpectedVersion is null
                ? prepared("INSERT INTO grain_states (id, version, payload) VALUES (@id, 1, @payload) ON CONFLICT DO NOTHING", ["id", "payload"])
                : prepared("UPDATE grain_states SET version = @expected + 1, payload = @payload WHERE id = @id AND version = @expected",
                    ["id", "expected", "payload"]);
            command.Parameters["@id"].Value = write.Id;
            command.Parameters["@payload"].Value = (object?)write.Payload ?? DBNull.Value;
            if (write.ExpectedVersion is { } expected)
            {
                command.Parameters["@expected"].Value = expected;
            }

            if (command.ExecuteNonQuery() != 1)
            {
                write.Failure = write.Conflict();
            }
        }
    }

    /// <summary>
    /// The careful writer's commands, kept for the life of its connection and handed each transaction in turn. SQLite
    /// compiles a command's statements on its first execution, so commands made afresh for every transaction were
    /// compiled afresh too. There are a dozen statements and one insert per chunk size, so the set stays small.
    /// </summary>
    private sealed class WriterCommands(DbConnection connection) : IDisposable
    {
        private readonly Dictionary<string, DbCommand> _statements = new(StringComparer.Ordinal);
        private readonly Dictionary<int, DbCommand> _inserts = [];

        public DbConnection Connection { get; } = connection;

        /// <summary>The command of one statement, by its text.</summary>
        public DbCommand Get(string sql, DbTransaction transaction, Func<DbCommand> create) => Reuse(_statements, sql, transaction, create);

        /// <summary>The multi-row insert of so many rows.</summary>
        public DbCommand Insert(int rows, DbTransaction transaction, Func<DbCommand> create) => Reuse(_inserts, rows, transaction, create);

        public void Dispose()
        {
            foreach (var command in _statements.Values.Concat(_inserts.Values))
            {
                command.Dispose();
            }
        }

        private static DbCommand Reuse<TKey>(Dictionary<TKey, DbCommand> commands, TKey key, DbTransaction transaction, Func<DbCommand> create)
            where TKey : notnull
        {
            if (!commands.TryGetValue(key, out var command))
            {
                commands[key] = command = create();
            }

            command.Transaction = transaction;
            return command;
        }
    }

    /// <summary>One writer loop: its queue, and the careful path's commands for its connection (only its thread touches them).</summary>
    private sealed class WriterLane(int index, int capacity)
    {
        public int Index { get; } = index;

        public Channel<PendingWrite> Queue { get; } = Channel.CreateBounded<PendingWrite>(
            new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

        public WriterCommands? Commands { get; set; }
    }

    /// <summary>A write waiting for its writer: whether it lost its fence, and its caller's completion.</summary>
    protected abstract class PendingWrite
    {
        /// <summary>What the write is ordered by: its line, or its grain state's id.</summary>
        public abstract string Key { get; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Exception? Failure { get; set; }
    }

    /// <summary>
    /// One grain state replacing the version its grain read (none: the first write). The version after the write is
    /// one more, so the caller knows its new ETag without asking.
    /// </summary>
    protected sealed class StateWrite(string id, long? expectedVersion, byte[]? payload) : PendingWrite
    {
        public string Id { get; } = id;

        public override string Key => Id;

        public long? ExpectedVersion { get; } = expectedVersion;

        /// <summary>The serialized state; null when the state is cleared.</summary>
        public byte[]? Payload { get; } = payload;

        public GrainStateConflictException Conflict() =>
            new($"Grain state {Id} is not at version {ExpectedVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(none)"}: another activation wrote it.");
    }

    /// <summary>
    /// One line's append waiting for the writer: the fence, the entries, and the caller's completion. Until the writer
    /// takes it, its line may add entries (from the grain's thread, while the writer's thread reads the queue), so the
    /// entries and the expiry change only under the lock.
    /// </summary>
    protected sealed class Append(string line, long expectedSequence, IEnumerable<LedgerEntry> entries, ExpiryUpdate? expiry, string? previousOperationId)
        : PendingWrite, ILedgerAppend
    {
        private readonly List<LedgerEntry> _entries = [.. entries];
        private readonly Lock _lock = new();
        private bool _taken;

        public string Line { get; } = line;

        public override string Key => Line;

        public ExpiryUpdate? Expiry { get; private set; } = expiry;

        /// <summary>The operation id the entry at <see cref="ExpectedSequence"/> must carry, when the caller pipelined this append behind it.</summary>
        public string? PreviousOperationId { get; } = previousOperationId;

        public long ExpectedSequence { get; } = expectedSequence;

        /// <summary>The entries; read them only once the append is taken, when they no longer change.</summary>
        public IReadOnlyList<LedgerEntry> Entries => _entries;

        public Task Durable => Done.Task;

        /// <summary>The trace of an open append, ended by the writer once the append is durable; null when nobody listens.</summary>
        public Activity? Activity { get; init; }

        public bool TryAdd(LedgerEntry entry, ExpiryUpdate? expiry)
        {
            lock (_lock)
            {
                if (_taken)
                {
                    return false;
                }

                _entries.Add(entry);
                Expiry = expiry ?? Expiry;
                return true;
            }
        }

        /// <summary>The writer takes the append: no entry joins it after this.</summary>
        public void Take()
        {
            lock (_lock)
            {
                _taken = true;
            }
        }
    }
}
