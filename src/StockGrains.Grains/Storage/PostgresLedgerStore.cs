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
/// A transaction is sent as one batch: each append is a single statement that inserts all its entries from arrays
/// and carries its own fence (it inserts nothing unless the line is at the expected sequence), so a transaction of
/// a hundred lines costs one round trip and a commit, not five round trips per line. A constraint violation (a second
/// activation on another silo won the race) aborts the batch; the transaction is then written again the generic way,
/// with a savepoint per append, so that only the stale append fails.
/// </para>
/// </summary>
public sealed partial class PostgresLedgerStore(PostgresDatabase database, ILogger<PostgresLedgerStore> logger) : RelationalLedgerStore(logger)
{
    /// <summary>
    /// The fenced append. The sub-select is evaluated once, before any row is inserted, so the statement inserts all
    /// of the append's entries or none. Positional parameters: $1 line, $2 expected sequence, $3… one array per column,
    /// $27 the operation id the entry at the expected sequence must carry (null: any).
    /// </summary>
    private static readonly string InsertSql =
        $"INSERT INTO stock_ledger (line, {Columns}) SELECT $1, u.* FROM unnest(" +
        "$3::bigint[], $4::text[], $5::bigint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[], " +
        "$12::bigint[], $13::bigint[], $14::bigint[], $15::bigint[], $16::text[], $17::bigint[], $18::text[], $19::text[], $20::text[], " +
        "$21::bigint[], $22::bigint[], $23::bigint[], $24::text[], $25::text[], $26::bigint[]) AS u " +
        "WHERE (SELECT COALESCE(MAX(sequence), 0) FROM stock_ledger WHERE line = $1) = $2 " +
        "AND ($27::text IS NULL OR EXISTS (SELECT 1 FROM stock_ledger WHERE line = $1 AND sequence = $2 AND operation_id = $27))";

    private const string LineSql = "INSERT INTO stock_lines (line, warehouse, sku) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

    /// <summary>The expiry index moves only when the line's ledger ends where this append ends: never for a fenced-out append.</summary>
    private const string ExpirySql =
        "UPDATE stock_lines SET next_expiry = $2 WHERE line = $1 AND (SELECT COALESCE(MAX(sequence), 0) FROM stock_ledger WHERE line = $1) = $3";

    private readonly ILogger<PostgresLedgerStore> _logger = logger;

    protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken) =>
        await database.DataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbConnection> OpenWriterAsync() => await database.WriterSource.OpenConnectionAsync();

    protected override bool IsUniqueViolation(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    protected override void Write(DbConnection connection, IReadOnlyList<Append> batch)
    {
        if (!TryWriteAsOneBatch((NpgsqlConnection)connection, batch))
        {
            base.Write(connection, batch);
        }
    }

    /// <summary>Writes the transaction in one round trip; false (and nothing written) when a constraint refused it.</summary>
    private bool TryWriteAsOneBatch(NpgsqlConnection connection, IReadOnlyList<Append> batch)
    {
        using var transaction = connection.BeginTransaction(IsolationLevel.ReadCommitted);
        using var commands = new NpgsqlBatch(connection, transaction);
        // Which batch command decides each append: its insert, or its expiry update when it has no entries.
        var deciding = new int[batch.Count];
        for (var i = 0; i < batch.Count; i++)
        {
            var append = batch[i];
            deciding[i] = -1;
            if (append.Entries.Count > 0)
            {
                if (append.ExpectedSequence == 0)
                {
                    var key = StockKey.Parse(append.Line);
                    commands.BatchCommands.Add(Statement(LineSql, Text(append.Line), Text(key.Warehouse), Text(key.Sku)));
                }

                deciding[i] = commands.BatchCommands.Count;
                commands.BatchCommands.Add(Insert(append));
            }

            if (append.Expiry is { } expiry)
            {
                if (deciding[i] < 0)
                {
                    deciding[i] = commands.BatchCommands.Count;
                }

                commands.BatchCommands.Add(Statement(ExpirySql, Text(append.Line),
                    new NpgsqlParameter<long?>
                    {
                        NpgsqlDbType = NpgsqlDbType.Bigint,
                        TypedValue = expiry.At is { } at ? LedgerFormat.Ticks(at) : null,
                    },
                    Long(append.ExpectedSequence + append.Entries.Count)));
            }
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

        for (var i = 0; i < batch.Count; i++)
        {
            var append = batch[i];
            var expected = append.Entries.Count > 0 ? append.Entries.Count : 1;
            if (deciding[i] >= 0 && commands.BatchCommands[deciding[i]].RecordsAffected != expected)
            {
                append.Failure = new LedgerConflictException(
                    $"Line {append.Line} is not at sequence {append.ExpectedSequence}: another writer appended first.");
            }
        }

        transaction.Commit();
        return true;
    }

    private static NpgsqlBatchCommand Insert(Append append)
    {
        var e = append.Entries;
        var n = e.Count;
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
        for (var i = 0; i < n; i++)
        {
            var x = e[i];
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
        }

        return Statement(InsertSql,
            Text(append.Line), Long(append.ExpectedSequence),
            Longs(sequence), Texts(kind), Longs(quantity), Texts(reason), Texts(reservation), Texts(operation), Texts(actor), Texts(reference),
            Longs(at), Longs(onHand), Longs(reserved), Longs(committed), Longs(safety), Texts(policy), Longs(expires), Texts(fingerprint),
            Texts(note), Texts(unit), Longs(unitQuantity), Longs(counted), Longs(countStart), Texts(counterparty), Texts(approval), Longs(alert),
            new NpgsqlParameter<string?> { NpgsqlDbType = NpgsqlDbType.Text, TypedValue = append.PreviousOperationId });
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
