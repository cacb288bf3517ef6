using System.Data.Common;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using StockGrains.Stock;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The cluster ledger on PostgreSQL. Each silo's writer folds the appends of its lines into one transaction; two
/// silos that both think they own a line race on the primary key, and the loser's append fails alone.
/// <para>
/// A transaction is at most five statements sent in one round trip with its commit, however many lines and orders it
/// carries: the new lines' rows, every entry of every line inserted from arrays, the expiry index, and the order
/// states written for the first time and written again. Each line's fence is part of the insert (its first row takes
/// the position after the expected one, under the primary key, and behind the expected entry when it names one), so the
/// common case needs no savepoints, and
/// each state names the version it replaces. When anything is refused — a fence lost, a version moved, or a constraint
/// broken by a second activation on another silo — PostgreSQL rolls the transaction back, and it is written again the
/// generic way, with a savepoint per append, so that only the stale write fails.
/// </para>
/// </summary>
public sealed partial class PostgresLedgerStore(PostgresDatabase database, ILogger<PostgresLedgerStore> logger)
    : RelationalLedgerStore(logger, database.WriterConnections)
{
    /// <summary>
    /// The inserts' rows, the lines (<c>$1</c>) and one array per ledger column after them, as both inserts select them.
    /// The rows come from one <c>unnest</c> per column in the select list, which PostgreSQL runs in step and pads with
    /// nulls where an array is shorter or absent. A multi-argument <c>unnest</c> in <c>FROM</c> does the same but first
    /// copies every row into a tuple store: 32 rows took about 40 µs more per transaction that way.
    /// </summary>
    private static readonly string UnnestedRows = "unnest($1::text[]) AS line, " +
        string.Join(", ", LedgerColumns.Select((c, i) => $"unnest(${i + 2}::{(c.IsText ? "text" : "bigint")}[]) AS {c.Name}"));

    /// <summary>
    /// Every entry of the transaction, behind its line's fence. The primary key is the fence at the line's head: the
    /// first entry of an append takes the position after the one it expects, so if another writer has appended there
    /// since, the insert breaks the key and PostgreSQL refuses the whole transaction. That covers every append whose line
    /// had nothing else in flight when it was sent, because then the position it expects is one the line saw committed,
    /// and the ledger is never behind it. An append pipelined behind one still in flight also names that append's last
    /// entry, and <c>fenced</c> looks for it (the line, its sequence and its operation id), so that if the append before
    /// it lost to another writer this one cannot land behind that writer's entry at the same position. The look sees the
    /// ledger as it was before the statement, so a line's entries go in all together or not at all.
    /// <para>
    /// The fence does not read each line's head (<c>MAX(sequence)</c>) to compare it with the expected position. It did
    /// once: with 10,000 SKUs each entry is a line of its own, and that look was a third of PostgreSQL's work per entry,
    /// while it never refused an append that the key would not also have refused.
    /// </para>
    /// <para>
    /// The predecessor's look names its whole key on both unique indexes, and is a scalar sub-select. Written as an
    /// <c>EXISTS</c>, PostgreSQL may plan it as a hashed sub-plan, which reads the whole ledger once per transaction;
    /// written with the operation id outside the sub-select, the generic plan, made while the ledger was empty, chose
    /// the operation-id index on <c>line</c> alone and read every entry of the line. Either way a hot line's pipelined
    /// append cost about 10 ms of PostgreSQL's CPU at 35,000 entries, and the hot SKU fell from 34k/s to 1.9k/s.
    /// </para>
    /// </summary>
    internal static readonly string InsertSql =
        $"WITH fenced AS MATERIALIZED (SELECT f.line FROM unnest(${FenceParameter}::text[], ${FenceParameter + 1}::bigint[], " +
        $"${FenceParameter + 2}::text[]) AS f(line, expected, previous) " +
        "WHERE f.previous IS NULL OR (SELECT true FROM stock_ledger s WHERE s.line = f.line AND s.sequence = f.expected AND s.operation_id = f.previous) IS NOT NULL) " +
        $"INSERT INTO stock_ledger (line, {Columns}) SELECT u.* FROM (SELECT {UnnestedRows}) AS u " +
        "WHERE u.line IN (SELECT line FROM fenced)";

    /// <summary>
    /// The insert of a transaction none of whose appends is pipelined: the primary key is then every line's whole fence,
    /// so there is nothing to look up, and PostgreSQL neither unpacks the fences' arrays nor builds the look's hash.
    /// </summary>
    internal static readonly string PlainInsertSql = $"INSERT INTO stock_ledger (line, {Columns}) SELECT {UnnestedRows}";

    /// <summary>Parameters of <see cref="PlainInsertSql"/>: the lines, then one array per column.</summary>
    internal static int PlainInsertParameterCount => LedgerColumns.Length + 1;

    /// <summary>The plain insert as the writer sends it: checked, with the number of entries it must write as one more parameter.</summary>
    internal static readonly string CheckedPlainInsertSql = CheckedSql(PlainInsertSql, PlainInsertParameterCount);

    /// <summary>Parameters of <see cref="InsertSql"/>: the lines, one array per column, then the fences' three arrays.</summary>
    internal static int InsertParameterCount => FenceParameter + 2;

    /// <summary>The insert as the writer sends it: checked, with the number of entries it must write as one more parameter.</summary>
    internal static readonly string CheckedInsertSql = CheckedSql(InsertSql, InsertParameterCount);

    /// <summary>The number of the fences' first parameter: after the lines (<c>$1</c>) and one array per ledger column.</summary>
    private static int FenceParameter => LedgerColumns.Length + 2;

    private const string LinesSql =
        "INSERT INTO stock_lines (line, warehouse, sku) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING";

    /// <summary>
    /// The expiry index moves only for a line whose ledger now ends where its append ends. The rows are found by key
    /// (<c>= ANY</c>) before they are joined: a prepared statement's generic plan, made while the table was small,
    /// would otherwise scan the whole table on every transaction (measured on the order states: three million rows read
    /// in ten seconds).
    /// </summary>
    private const string ExpirySql =
        "UPDATE stock_lines s SET next_expiry = u.at FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(line, at, last) " +
        "WHERE s.line = ANY($1) AND s.line = u.line AND (SELECT COALESCE(MAX(l.sequence), 0) FROM stock_ledger l WHERE l.line = u.line) = u.last";

    /// <summary>First writes of grain states: version 1, unless another activation got there first.</summary>
    private const string FirstStatesSql =
        "INSERT INTO grain_states (id, version, payload) SELECT u.id, 1, u.payload FROM unnest($1::text[], $2::bytea[]) AS u(id, payload) " +
        "ON CONFLICT DO NOTHING";

    /// <summary>Later writes of grain states: each replaces exactly the version its grain read (rows found by key, as above).</summary>
    private const string LaterStatesSql =
        "UPDATE grain_states s SET version = u.expected + 1, payload = u.payload FROM unnest($1::text[], $2::bigint[], $3::bytea[]) " +
        "AS u(id, expected, payload) WHERE s.id = ANY($1) AND s.id = u.id AND s.version = u.expected";

    // The checked forms are built once: each is sent thousands of times a second, and the prepared statement is found by its text.
    private static readonly string CheckedExpirySql = CheckedSql(ExpirySql, 3);
    private static readonly string CheckedFirstStatesSql = CheckedSql(FirstStatesSql, 2);
    private static readonly string CheckedLaterStatesSql = CheckedSql(LaterStatesSql, 3);

    /// <summary>The error <c>stockgrains_expect_rows</c> raises when a statement changed fewer rows than it must: a fence was lost.</summary>
    internal const string FenceLost = "SG001";

    private readonly ILogger<PostgresLedgerStore> _logger = logger;

    /// <summary>Each writer's insert, made afresh for each connection it opens; only that writer's thread touches it.</summary>
    private readonly InsertCommand?[] _inserts = new InsertCommand?[database.WriterConnections];

    protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken) =>
        await database.DataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbConnection> OpenWriterAsync() => await database.WriterSource.OpenConnectionAsync();

    /// <summary>
    /// Many lookups in one query: each (line, id) pair, numbered, joined to the entries of that id on that line. Each kind
    /// of entry is found on two columns of its own index: the id's own operation; the later entries of a reservation (the
    /// partial index leaves out its first entry, which the operation index has); and the resolutions of an approval
    /// (whose request the operation index has). Written as one condition with <c>OR</c>, the generic plan made while the
    /// ledger was small joined every entry of the ledger by hash.
    /// </summary>
    internal static readonly string FindManySql =
        "SELECT q.i, e.* FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(line, id, i) CROSS JOIN LATERAL (" +
        $"SELECT {Columns} FROM stock_ledger WHERE line = q.line AND operation_id = q.id UNION ALL " +
        $"SELECT {Columns} FROM stock_ledger WHERE line = q.line AND reservation_id = q.id AND reservation_id <> operation_id UNION ALL " +
        $"SELECT {Columns} FROM stock_ledger WHERE line = q.line AND approval_id = q.id AND approval_id <> operation_id" +
        ") AS e ORDER BY q.i, e.sequence";

    protected override async Task<IReadOnlyList<IReadOnlyList<LedgerEntry>>> FindManyAsync(IReadOnlyList<(string Line, string Id)> lookups,
        CancellationToken cancellationToken)
    {
        var lines = new string?[lookups.Count];
        var ids = new string?[lookups.Count];
        var found = new List<LedgerEntry>[lookups.Count];
        for (var i = 0; i < lookups.Count; i++)
        {
            (lines[i], ids[i]) = lookups[i];
            found[i] = [];
        }

        await using var connection = (NpgsqlConnection)await OpenReaderAsync(cancellationToken);
        await using var command = new NpgsqlCommand(FindManySql, connection) { Parameters = { Texts(lines), Texts(ids) } };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[reader.GetInt64(0) - 1].Add(ReadEntry(reader, 1));
        }

        return found;
    }

    /// <summary>Every state asked for in one query, found by key: one statement however many orders activate together.</summary>
    protected override async Task<IReadOnlyList<StoredGrainState?>> ReadGrainStatesAsync(IReadOnlyList<string> ids, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, StoredGrainState>(ids.Count, StringComparer.Ordinal);
        await using var connection = (NpgsqlConnection)await OpenReaderAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT id, version, payload FROM grain_states WHERE id = ANY($1)", connection)
        {
            Parameters = { Texts(ids.ToArray()) },
        };
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            found[reader.GetString(0)] = ReadState(reader, 1);
        }

        // Answered by id, so that the same id asked twice at once gets the same answer twice.
        return ids.Select(id => found.GetValueOrDefault(id)).ToArray();
    }

    protected override bool IsUniqueViolation(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override void Write(int writer, DbConnection connection, IReadOnlyList<PendingWrite> batch)
    {
        if (!TryWriteAtOnce(writer, (NpgsqlConnection)connection, batch))
        {
            base.Write(writer, connection, batch);
        }
    }

    /// <summary>
    /// Writes the transaction, commit included, in one round trip; false, with nothing written, when anything in it was
    /// refused. The batch runs as one implicit transaction, which PostgreSQL commits, durably, before it answers: there
    /// is no second round trip for the commit. So a lost fence cannot be found from the rows each statement changed
    /// once the answer is back; each checked statement raises <see cref="FenceLost"/> itself instead, and that aborts
    /// the whole transaction.
    /// </summary>
    private bool TryWriteAtOnce(int writer, NpgsqlConnection connection, IReadOnlyList<PendingWrite> batch)
    {
        var states = batch.OfType<StateWrite>().ToArray();
        if (LineWrite.From(batch.OfType<Append>()) is not { } writes || states.DistinctBy(w => w.Id).Count() != states.Length)
        {
            // Two writes of one grain's state in one transaction come from two activations: the generic path orders them.
            return false;
        }

        using var commands = new NpgsqlBatch(connection);
        var newLines = writes.Where(w => w.Expected == 0 && w.Entries.Count > 0).Select(w => w.Line).ToArray();
        if (newLines.Length > 0)
        {
            var keys = newLines.Select(StockKey.Parse).ToArray();
            commands.BatchCommands.Add(Statement(LinesSql, Texts(newLines), Texts(keys.Select(k => k.Warehouse).ToArray()),
                Texts(keys.Select(k => k.Sku).ToArray())));
        }

        if (writes.Any(w => w.Entries.Count > 0))
        {
            if (_inserts[writer]?.Connection != connection)
            {
                // A statement auto-prepared on the connection the writer lost is not prepared on its new one.
                _inserts[writer] = new InsertCommand(connection);
            }

            commands.BatchCommands.Add(_inserts[writer]!.Fill(writes));
        }

        if (writes.Where(w => w.Expiry is not null).ToArray() is { Length: > 0 } expiries)
        {
            commands.BatchCommands.Add(Checked(CheckedExpirySql, expiries.Length, Texts(expiries.Select(w => w.Line).ToArray()),
                Longs(expiries.Select(w => w.Expiry!.Value.At is { } at ? LedgerFormat.Ticks(at) : (long?)null).ToArray()),
                Longs(expiries.Select(w => w.Expected + w.Entries.Count).ToArray())));
        }

        if (states.Where(w => w.ExpectedVersion is null).ToArray() is { Length: > 0 } firsts)
        {
            commands.BatchCommands.Add(Checked(CheckedFirstStatesSql, firsts.Length, Texts(firsts.Select(w => w.Id).ToArray()),
                Bytes(firsts.Select(w => w.Payload).ToArray())));
        }

        if (states.Where(w => w.ExpectedVersion is not null).ToArray() is { Length: > 0 } laters)
        {
            commands.BatchCommands.Add(Checked(CheckedLaterStatesSql, laters.Length, Texts(laters.Select(w => w.Id).ToArray()),
                Longs(laters.Select(w => w.ExpectedVersion!.Value).ToArray()), Bytes(laters.Select(w => w.Payload).ToArray())));
        }

        try
        {
            commands.ExecuteNonQuery();
            return true;
        }
        catch (PostgresException ex) when (ex.SqlState == FenceLost || IsUniqueViolation(ex))
        {
            // All or nothing, and PostgreSQL has rolled it all back: the careful path finds out which write was refused.
            if (ex.SqlState != FenceLost)
            {
                LogBatchRefused(_logger, batch.Count, ex.ConstraintName);
            }

            return false;
        }
    }

    /// <summary>
    /// A statement in its checked form (<see cref="CheckedSql"/>) that must change exactly <paramref name="rows"/> rows:
    /// PostgreSQL itself raises <see cref="FenceLost"/> when it changes fewer. The count is the statement's last parameter.
    /// </summary>
    private static NpgsqlBatchCommand Checked(string checkedSql, int rows, params NpgsqlParameter[] parameters)
    {
        var command = Statement(checkedSql, parameters);
        command.Parameters.Add(new NpgsqlParameter<long> { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = rows });
        return command;
    }

    /// <summary>A data-changing statement of <paramref name="parameters"/> parameters, wrapped to check the rows it changed against one more.</summary>
    private static string CheckedSql(string sql, int parameters) =>
        $"WITH changed AS ({sql} RETURNING 1) SELECT stockgrains_expect_rows(COUNT(*), ${parameters + 1}) FROM changed";

    /// <summary>
    /// The insert of every entry of the transaction, with its parameters and the lists behind them made once and
    /// refilled for every transaction. Made afresh, one array and one parameter per column and a converter for each, they
    /// were about a seventh of all the bytes a reservation on the hot SKU allocated, and every byte allocated brings the
    /// next collection, and its pause, closer. Only the writer's thread uses it.
    /// </summary>
    private sealed class InsertCommand
    {
        /// <summary>Entries a list keeps room for between transactions: one huge transaction must not hold its memory for good.</summary>
        private const int RetainedEntries = 4_096;

        private readonly List<string?> _lines = [];
        private readonly ColumnValues[] _columns = LedgerColumns.Select(ColumnValues.For).ToArray();
        private readonly List<string?> _fenceLines = [];
        private readonly List<long> _fenceExpected = [];
        private readonly List<string?> _fencePrevious = [];
        private readonly NpgsqlParameter<long> _count = new() { NpgsqlDbType = NpgsqlDbType.Bigint };
        private readonly NpgsqlParameter<long> _plainCount = new() { NpgsqlDbType = NpgsqlDbType.Bigint };

        public InsertCommand(NpgsqlConnection connection)
        {
            Connection = connection;
            Command.Parameters.Add(new NpgsqlParameter<List<string?>> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = _lines });
            Plain.Parameters.Add(new NpgsqlParameter<List<string?>> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = _lines });
            foreach (var column in _columns)
            {
                Command.Parameters.Add(column.Parameter);
                Plain.Parameters.Add(column.PlainParameter);
            }

            Plain.Parameters.Add(_plainCount);

            Command.Parameters.Add(new NpgsqlParameter<List<string?>> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = _fenceLines });
            Command.Parameters.Add(new NpgsqlParameter<List<long>> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, TypedValue = _fenceExpected });
            Command.Parameters.Add(new NpgsqlParameter<List<string?>> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = _fencePrevious });
            Command.Parameters.Add(_count);
        }

        /// <summary>The connection whose prepared statements the command may refer to.</summary>
        public NpgsqlConnection Connection { get; }

        public NpgsqlBatchCommand Command { get; } = new(CheckedInsertSql);

        /// <summary>The same insert without the fences' look, for a transaction with no pipelined append; it shares the lists.</summary>
        public NpgsqlBatchCommand Plain { get; } = new(CheckedPlainInsertSql);

        /// <summary>Fills the parameters with every entry of <paramref name="writes"/> and each line's fence.</summary>
        public NpgsqlBatchCommand Fill(IReadOnlyList<LineWrite> writes)
        {
            Clear(_lines);
            Clear(_fenceLines);
            Clear(_fenceExpected);
            Clear(_fencePrevious);
            foreach (var column in _columns)
            {
                column.Clear();
            }

            var pipelined = false;
            foreach (var write in writes)
            {
                if (write.Entries.Count == 0)
                {
                    continue;
                }

                pipelined |= write.Previous is not null;
                _fenceLines.Add(write.Line);
                _fenceExpected.Add(write.Expected);
                _fencePrevious.Add(write.Previous);
                foreach (var entry in write.Entries)
                {
                    _lines.Add(write.Line);
                    foreach (var column in _columns)
                    {
                        column.Add(entry);
                    }
                }
            }

            foreach (var column in _columns)
            {
                column.Bind();
            }

            // The insert must write every entry it was given; fewer means a line lost its fence.
            _count.TypedValue = _plainCount.TypedValue = _lines.Count;
            return pipelined ? Command : Plain;
        }

        private static void Clear<T>(List<T> list)
        {
            list.Clear();
            if (list.Capacity > RetainedEntries)
            {
                list.Capacity = RetainedEntries;
            }
        }

        /// <summary>
        /// One column's values. When every value is null the column is sent as no array at all: a reservation leaves ten of
        /// the ledger's columns empty, and the insert's <c>unnest</c> pads a missing array with nulls, so those columns cost
        /// the writer no element to encode and PostgreSQL none to decode.
        /// </summary>
        private abstract class ColumnValues
        {
            public abstract NpgsqlParameter Parameter { get; }

            /// <summary>The same values for the plain insert: a parameter belongs to one command only.</summary>
            public abstract NpgsqlParameter PlainParameter { get; }

            public static ColumnValues For(LedgerColumn column) => column.IsText
                ? new ColumnValues<string?>(column.TextOf, NpgsqlDbType.Text)
                : new ColumnValues<long?>(column.NumberOf, NpgsqlDbType.Bigint);

            public abstract void Clear();

            public abstract void Add(LedgerEntry entry);

            public abstract void Bind();
        }

        private sealed class ColumnValues<T>(Func<LedgerEntry, T> valueOf, NpgsqlDbType element) : ColumnValues
        {
            private readonly List<T> _values = [];
            private readonly NpgsqlParameter<List<T>> _parameter = new() { NpgsqlDbType = NpgsqlDbType.Array | element };
            private readonly NpgsqlParameter<List<T>> _plainParameter = new() { NpgsqlDbType = NpgsqlDbType.Array | element };
            private bool _any;

            public override NpgsqlParameter Parameter => _parameter;

            public override NpgsqlParameter PlainParameter => _plainParameter;

            public override void Clear()
            {
                _any = false;
                InsertCommand.Clear(_values);
            }

            public override void Add(LedgerEntry entry)
            {
                var value = valueOf(entry);
                _any |= value is not null;
                _values.Add(value);
            }

            public override void Bind() => _parameter.TypedValue = _plainParameter.TypedValue = _any ? _values : null;
        }
    }

    /// <summary>
    /// What one transaction writes to one line: its appends in the order the line made them, joined into one run of
    /// entries behind one fence. They are contiguous (each starts where the one before it ends), so the first append's
    /// fence covers the rest, and they stand or fall together.
    /// </summary>
    private sealed class LineWrite(string line, long expected, string? previous, IReadOnlyList<LedgerEntry> entries)
    {
        public string Line { get; } = line;

        public long Expected { get; } = expected;

        public string? Previous { get; } = previous;

        /// <summary>The first append's own entries, copied into a list of their own only when a second append of the line joins them.</summary>
        public IReadOnlyList<LedgerEntry> Entries { get; private set; } = entries;

        public ExpiryUpdate? Expiry { get; set; }

        private List<LedgerEntry>? _joined;

        /// <summary>Adds the entries of the line's next append; the first append's own list is never changed.</summary>
        public void Join(IReadOnlyList<LedgerEntry> more)
        {
            if (_joined is null)
            {
                Entries = _joined = [.. Entries];
            }

            _joined.AddRange(more);
        }

        /// <summary>The appends by line, or null when two appends of one line are not contiguous (the generic path then decides).</summary>
        public static IReadOnlyList<LineWrite>? From(IEnumerable<Append> batch)
        {
            var byLine = new Dictionary<string, LineWrite>(StringComparer.Ordinal);
            var ordered = new List<LineWrite>();
            foreach (var append in batch)
            {
                if (byLine.TryGetValue(append.Line, out var write))
                {
                    // A later append rides on the first one's fence only if it follows it exactly: at the position
                    // after its last entry and, when it names a predecessor, behind that very entry. Anything else
                    // comes from another activation of the line, and the generic path fences each append on its own.
                    if (append.ExpectedSequence != write.Expected + write.Entries.Count
                        || (append.PreviousOperationId is { } previous && write.Entries.Count > 0 && previous != write.Entries[^1].OperationId))
                    {
                        return null;
                    }

                    write.Join(append.Entries);
                }
                else
                {
                    write = new LineWrite(append.Line, append.ExpectedSequence, append.PreviousOperationId, append.Entries);
                    byLine.Add(append.Line, write);
                    ordered.Add(write);
                }

                write.Expiry = append.Expiry ?? write.Expiry;
            }

            return ordered;
        }
    }

    private static NpgsqlBatchCommand Statement(string sql, params NpgsqlParameter[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters);
        return command;
    }

    private static NpgsqlParameter<string?[]> Texts(string?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = values };

    private static NpgsqlParameter<byte[]?[]> Bytes(byte[]?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea, TypedValue = values };

    private static NpgsqlParameter<long[]> Longs(long[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, TypedValue = values };

    private static NpgsqlParameter<long?[]> Longs(long?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, TypedValue = values };

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "A constraint ({Constraint}) refused a batch of {Writes} writes, most likely a second activation of a line on another silo; writing it again one by one.")]
    private static partial void LogBatchRefused(ILogger logger, int writes, string? constraint);
}
