using System.Data.Common;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The cluster ledger on PostgreSQL. Each silo's writer folds the appends of its lines into one transaction; two
/// silos that both think they own a line race on the primary key, and the loser's append fails alone.
/// </summary>
public sealed class PostgresLedgerStore(PostgresDatabase database, ILogger<PostgresLedgerStore> logger) : RelationalLedgerStore(logger)
{
    protected override async Task<DbConnection> OpenReaderAsync(CancellationToken cancellationToken) =>
        await database.DataSource.OpenConnectionAsync(cancellationToken);

    protected override async Task<DbConnection> OpenWriterAsync() => await database.DataSource.OpenConnectionAsync();

    protected override bool IsUniqueViolation(Exception exception) => exception is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };
}
