using System.Data;
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
/// A transaction is three statements sent in one round trip, however many lines it carries: the new lines' rows,
/// every entry of every line inserted from arrays, and the expiry index. Each line's fence is part of the insert (its
/// rows go in only if the line is at the expected sequence, behind the expected entry), so the common case needs no
/// savepoints. When anything is refused — a fence lost, or a constraint broken by a second activation on another
/// silo — the transaction is rolled back and written again the generic way, with a savepoint per append, so that
/// only the stale append fails.
/// </para>
/// </summary>
public sealed partial class PostgresLedgerStore(PostgresDatabase database, ILogger<PostgresLedgerStore> logger) : RelationalLedgerStore(logger)
{
    /// <summary>
    /// Every entry of the transaction, with its line's fence: <c>f</c> holds one row per line (the sequence the line
    /// must stand at, and the operation id the entry there must carry when the caller pipelined behind it). The
    /// sub-selects see the ledger as it was before the statement, so a line's entries go in all together or not at all.
    /// </summary>
    private static readonly string InsertSql =
        $"INSERT INTO stock_ledger (line, {Columns}) SELECT u.* FROM unnest(" +
        "$1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], " +
        "$11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::bigint[], $17::text[], $18::text[], $19::text[], " +
        "$20::bigint[], $21::bigint[], $22::bigint[], $23::text[], $24::text[], $25::bigint[]) AS u(line) " +
        "JOIN unnest($26::text[], $27::bigint[], $28::text[]) AS f(line, expected, previous) ON f.line = u.line " +
        "WHERE (SELECT COALESCE(MAX(s.sequence), 0) FROM stock_ledger s WHERE s.line = f.line) = f.expected " +
        "AND (f.previous IS NULL OR EXISTS (SELECT 1 FROM stock_ledger s WHERE s.line = f.line AND s.sequence = f.expected AND s.operation_id = f.previous))";

    private const string LinesSql =
        "INSERT INTO stock_lines (line, warehouse, sku) SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING";

    /// <summary>The expiry index moves only for a line whose ledger now ends where its append ends.</summary>
    private const string ExpirySql =
        "UPDATE stock_lines s SET next_expiry = u.at FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(line, at, last) " +
        "WHERE s.line = u.line AND (SELECT COALESCE(MAX(l.sequence), 0) FROM stock_ledger l WHERE l.line = u.line) = u.last";

    private readonly ILogger<PostgresLedgerStore> _logger = logger;

    protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken) =>
        await database.DataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbConnection> OpenWriterAsync() => await database.WriterSource.OpenConnectionAsync();

    protected override bool IsUniqueViolation(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override void Write(DbConnection connection, IReadOnlyList<Append> batch)
    {
        if (!TryWriteAtOnce((NpgsqlConnection)connection, batch))
        {
            base.Write(connection, batch);
        }
    }

    /// <summary>Writes the transaction in one round trip; false, with nothing written, when anything in it was refused.</summary>
    private bool TryWriteAtOnce(NpgsqlConnection connection, IReadOnlyList<Append> batch)
    {
        if (LineWrite.From(batch) is not { } writes)
        {
            return false;
        }

        using var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
        using var commands = new NpgsqlBatch(connection, transaction);
        var newLines = writes.Where(w => w.Expected == 0 && w.Entries.Count > 0).Select(w => w.Line).ToArray();
        if (newLines.Length > 0)
        {
            var keys = newLines.Select(StockKey.Parse).ToArray();
            commands.BatchCommands.Add(Statement(LinesSql, Texts(newLines), Texts(keys.Select(k => k.Warehouse).ToArray()),
                Texts(keys.Select(k => k.Sku).ToArray())));
        }

        var entries = writes.Sum(w => w.Entries.Count);
        var insert = -1;
        if (entries > 0)
        {
            insert = commands.BatchCommands.Count;
            commands.BatchCommands.Add(Insert(writes, entries));
        }

        var expiries = writes.Where(w => w.Expiry is not null).ToArray();
        var expiry = -1;
        if (expiries.Length > 0)
        {
            expiry = commands.BatchCommands.Count;
            commands.BatchCommands.Add(Statement(ExpirySql, Texts(expiries.Select(w => w.Line).ToArray()),
                Longs(expiries.Select(w => w.Expiry!.Value.At is { } at ? LedgerFormat.Ticks(at) : (long?)null).ToArray()),
                Longs(expiries.Select(w => w.Expected + w.Entries.Count).ToArray())));
        }

        try
        {
            commands.ExecuteNonQuery();
        }
        catch (PostgresException ex) when (IsUniqueViolation(ex))
        {
            LogBatchRefused(_logger, batch.Count, ex.ConstraintName);
            transaction.Rollback();
            return false;
        }

        // All or nothing: if any line lost its fence, the savepoint path finds out which, precisely.
        if ((insert >= 0 && commands.BatchCommands[insert].RecordsAffected != entries) ||
            (expiry >= 0 && commands.BatchCommands[expiry].RecordsAffected != expiries.Length))
        {
            transaction.Rollback();
            return false;
        }

        transaction.Commit();
        return true;
    }

    private static NpgsqlBatchCommand Insert(IReadOnlyList<LineWrite> writes, int n)
    {
        var line = new string[n];
        var sequence = new long[n];
        var kind = new string[n];
        var quantity = new long[n];
        var reason = new string?[n];
        var reservation = new string?[n];
        var operation = new string[n];
        var actor = new string[n];
        var reference = new string?[n];
        var at = new long[n];
        var onHand = new long[n];
        var reserved = new long[n];
        var committed = new long[n];
        var safety = new long[n];
        var policy = new string[n];
        var expires = new long?[n];
        var fingerprint = new string[n];
        var note = new string?[n];
        var unit = new string?[n];
        var unitQuantity = new long?[n];
        var counted = new long?[n];
        var countStart = new long?[n];
        var counterparty = new string?[n];
        var approval = new string?[n];
        var alert = new long?[n];
        var i = 0;
        foreach (var write in writes)
        {
            foreach (var x in write.Entries)
            {
                line[i] = write.Line;
                sequence[i] = x.Sequence;
                kind[i] = LedgerFormat.Kind(x.Kind);
                quantity[i] = x.Quantity;
                reason[i] = x.Reason;
                reservation[i] = x.ReservationId;
                operation[i] = x.OperationId;
                actor[i] = x.Actor;
                reference[i] = x.Reference;
                at[i] = LedgerFormat.Ticks(x.At);
                onHand[i] = x.OnHandAfter;
                reserved[i] = x.ReservedAfter;
                committed[i] = x.CommittedAfter;
                safety[i] = x.SafetyStockAfter;
                policy[i] = LedgerFormat.Policy(x.PolicyAfter);
                expires[i] = x.ExpiresAt is { } t ? LedgerFormat.Ticks(t) : null;
                fingerprint[i] = x.Fingerprint;
                note[i] = x.Note;
                unit[i] = x.Unit;
                unitQuantity[i] = x.UnitQuantity;
                counted[i] = x.CountedQuantity;
                countStart[i] = x.CountStartedAtSequence;
                counterparty[i] = x.Counterparty;
                approval[i] = x.ApprovalId;
                alert[i] = x.AlertCauseAfter;
                i++;
            }
        }

        var fenced = writes.Where(w => w.Entries.Count > 0).ToArray();
        return Statement(InsertSql,
            Texts(line), Longs(sequence), Texts(kind), Longs(quantity), Texts(reason), Texts(reservation), Texts(operation), Texts(actor),
            Texts(reference), Longs(at), Longs(onHand), Longs(reserved), Longs(committed), Longs(safety), Texts(policy), Longs(expires),
            Texts(fingerprint), Texts(note), Texts(unit), Longs(unitQuantity), Longs(counted), Longs(countStart), Texts(counterparty),
            Texts(approval), Longs(alert),
            Texts(fenced.Select(w => w.Line).ToArray()), Longs(fenced.Select(w => w.Expected).ToArray()),
            Texts(fenced.Select(w => w.Previous).ToArray()));
    }

    /// <summary>
    /// What one transaction writes to one line: its appends in the order the line made them, joined into one run of
    /// entries behind one fence. They are contiguous (each starts where the one before it ends), so the first append's
    /// fence covers the rest, and they stand or fall together.
    /// </summary>
    private sealed record LineWrite(string Line, long Expected, string? Previous, List<LedgerEntry> Entries)
    {
        public ExpiryUpdate? Expiry { get; set; }

        /// <summary>The appends by line, or null when two appends of one line are not contiguous (the generic path then decides).</summary>
        public static IReadOnlyList<LineWrite>? From(IReadOnlyList<Append> batch)
        {
            var byLine = new Dictionary<string, LineWrite>(StringComparer.Ordinal);
            var ordered = new List<LineWrite>(batch.Count);
            foreach (var append in batch)
            {
                if (byLine.TryGetValue(append.Line, out var write))
                {
                    if (append.ExpectedSequence != write.Expected + write.Entries.Count)
                    {
                        return null;
                    }

                    write.Entries.AddRange(append.Entries);
                }
                else
                {
                    write = new LineWrite(append.Line, append.ExpectedSequence, append.PreviousOperationId, [.. append.Entries]);
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

    private static NpgsqlParameter<string> Text(string value) => new() { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = value };

    private static NpgsqlParameter<long> Long(long value) => new() { NpgsqlDbType = NpgsqlDbType.Bigint, TypedValue = value };

    private static NpgsqlParameter<string?[]> Texts(string?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = values };

    private static NpgsqlParameter<long[]> Longs(long[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, TypedValue = values };

    private static NpgsqlParameter<long?[]> Longs(long?[] values) =>
        new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint, TypedValue = values };

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "A constraint ({Constraint}) refused a batch of {Appends} appends, most likely a second activation of a line on another silo; writing it again append by append.")]
    private static partial void LogBatchRefused(ILogger logger, int appends, string? constraint);
}
