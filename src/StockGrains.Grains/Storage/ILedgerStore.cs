using StockGrains.Stock;

namespace StockGrains.Grains.Storage;

/// <summary>
/// The durable ledger of every stock line: the source of truth. An append is conditional on the line's expected
/// sequence (the fence against a second activation) and each operation id may appear once per line.
/// </summary>
public interface ILedgerStore
{
    /// <summary>
    /// Appends <paramref name="entries"/> (consecutive sequences starting at <paramref name="expectedSequence"/> + 1)
    /// durably, or throws: <see cref="LedgerConflictException"/> when the line has moved past the expected sequence or
    /// an operation id is already used, any other exception when the outcome is unknown.
    /// </summary>
    /// <remarks>
    /// <paramref name="expiry"/>, when given, is the line's earliest pending hold expiry after these entries; it is
    /// stored in the same transaction, so the expiry index never disagrees with the durable ledger.
    /// <para>
    /// <paramref name="previousOperationId"/>, when given, is the operation id the entry at
    /// <paramref name="expectedSequence"/> must carry. A line that pipelines appends sends it with every append whose
    /// predecessor is still in flight: if that predecessor lost the fence to another writer, the line may still stand
    /// at the expected sequence — with the other writer's entry — and the position alone would let a stale append land
    /// on top of it.
    /// </para>
    /// </remarks>
    Task AppendAsync(string line, long expectedSequence, IReadOnlyList<LedgerEntry> entries, ExpiryUpdate? expiry = null,
        string? previousOperationId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts an append of <paramref name="first"/> that stays open until the store's writer takes it into a
    /// transaction: until then <see cref="ILedgerAppend.TryAdd"/> adds the line's next entries to it. A hot line's
    /// entries decided while its last transaction commits so all go into the next one, and the writer never waits for
    /// the line to hand over a batch. The fence and its failures are those of <see cref="AppendAsync"/>.
    /// </summary>
    ILedgerAppend BeginAppend(string line, long expectedSequence, LedgerEntry first, ExpiryUpdate? expiry = null, string? previousOperationId = null);

    /// <summary>
    /// Writes a grain's state through the same writer as the ledger, so that many grains' writes share one commit:
    /// <paramref name="expectedVersion"/> is the version the grain read (null: it found none), and the write fails
    /// with <see cref="GrainStateConflictException"/> unless the stored state is still at it. Returns the new version.
    /// A null <paramref name="payload"/> clears the state.
    /// </summary>
    Task<long> WriteGrainStateAsync(string id, long? expectedVersion, byte[]? payload, CancellationToken cancellationToken = default);

    /// <summary>A grain's stored state and its version, or null when it was never written.</summary>
    Task<StoredGrainState?> ReadGrainStateAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Lines whose earliest pending hold expires at or before <paramref name="now"/>, earliest first.</summary>
    Task<IReadOnlyList<string>> DueLinesAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken = default);

    /// <summary>Entries after <paramref name="afterSequence"/>, oldest first, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<LedgerEntry>> ReadAsync(string line, long afterSequence, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every entry of one operation, reservation or approval id on the line, oldest first. Lookups that arrive together
    /// may share one query.
    /// </summary>
    Task<IReadOnlyList<LedgerEntry>> FindAsync(string line, string id, CancellationToken cancellationToken = default);

    /// <summary>Lines (canonical keys) after <paramref name="afterLine"/> in key order, at most <paramref name="limit"/>.</summary>
    Task<IReadOnlyList<string>> LinesAsync(string afterLine, int limit, CancellationToken cancellationToken = default);

    /// <summary>The lines of one SKU, one per warehouse that ever had a movement of it.</summary>
    Task<IReadOnlyList<string>> LinesOfSkuAsync(string sku, int limit, CancellationToken cancellationToken = default);

    /// <summary>The latest entry of every line of one SKU: each warehouse's balances as last made durable.</summary>
    Task<IReadOnlyList<(string Line, LedgerEntry Latest)>> LatestOfSkuAsync(string sku, int limit, CancellationToken cancellationToken = default);

    /// <summary>Lines whose latest entry leaves a negative-stock alert open, with the entry that raised it.</summary>
    Task<IReadOnlyList<OpenAlert>> OpenAlertsAsync(int limit, CancellationToken cancellationToken = default);

    /// <summary>Approval requests not yet approved or rejected, oldest first, optionally of one warehouse.</summary>
    Task<IReadOnlyList<(string Line, LedgerEntry Request)>> PendingApprovalsAsync(string? warehouse, int limit, CancellationToken cancellationToken = default);

    /// <summary>Throws unless the store answers a query: what readiness means.</summary>
    Task CheckAsync(CancellationToken cancellationToken = default);

    /// <summary>Counts of what the store has done since start-up.</summary>
    LedgerStoreCounters Counters { get; }
}

/// <summary>An append that takes more entries until the store's writer takes it (<see cref="ILedgerStore.BeginAppend"/>).</summary>
public interface ILedgerAppend
{
    /// <summary>
    /// Adds the line's next entry, and the line's earliest pending expiry after it when that changes; false, with
    /// nothing added, once the writer has taken the append: the entry then starts the next one.
    /// </summary>
    bool TryAdd(LedgerEntry entry, ExpiryUpdate? expiry);

    /// <summary>Completes when every entry the append took is durable; fails as <see cref="ILedgerStore.AppendAsync"/> does.</summary>
    Task Durable { get; }
}

/// <summary>An open negative-stock alert: the line, its latest entry, and the movement that caused the alert.</summary>
public sealed record OpenAlert(string Line, LedgerEntry Latest, LedgerEntry Cause);

/// <summary>Counters that show group commit working: many entries per append, many appends per transaction.</summary>
public sealed class LedgerStoreCounters
{
    private long _appends;
    private long _entries;
    private long _transactions;
    private long _lookups;
    private long _lookupQueries;
    private long _skuReads;
    private int _writing;

    public long Appends => Interlocked.Read(ref _appends);

    public long Entries => Interlocked.Read(ref _entries);

    public long Transactions => Interlocked.Read(ref _transactions);

    internal void Appended(int entries)
    {
        Interlocked.Increment(ref _appends);
        Interlocked.Add(ref _entries, entries);
    }

    internal void Committed() => Interlocked.Increment(ref _transactions);

    /// <summary>Ids looked up in the ledger (by lines that had forgotten them, or never knew them).</summary>
    public long Lookups => Interlocked.Read(ref _lookups);

    /// <summary>Queries that answered those lookups: far fewer than the lookups when a hot line asks for many at once.</summary>
    public long LookupQueries => Interlocked.Read(ref _lookupQueries);

    internal void LookedUp(int ids)
    {
        Interlocked.Increment(ref _lookupQueries);
        Interlocked.Add(ref _lookups, ids);
    }

    /// <summary>
    /// Reads of a SKU's latest balances (<see cref="ILedgerStore.LatestOfSkuAsync"/>): the availability read model's
    /// rebuilds. It answers reads from memory, so these grow with the SKUs it rebuilds and its refreshes (one a minute
    /// for a SKU being read), not with the reads; the exceptions are a SKU no line has and a shard past its SKU limit,
    /// which are read from the store every time.
    /// </summary>
    public long SkuReads => Interlocked.Read(ref _skuReads);

    internal void ReadSku() => Interlocked.Increment(ref _skuReads);

    /// <summary>Writes in the transactions the writers are writing now; 0 while they wait for work. A writer stuck on the database shows here.</summary>
    public int WritesInTransaction => Volatile.Read(ref _writing);

    /// <summary>A writer starts a transaction of so many writes (positive), or ends one (negative).</summary>
    internal void Writing(int writes) => Interlocked.Add(ref _writing, writes);
}

/// <summary>A grain's state as stored: its version and its serialized payload (null when cleared).</summary>
public sealed record StoredGrainState(long Version, byte[]? Payload);

/// <summary>The grain-state write lost its fence: another activation wrote the state since it was read.</summary>
public sealed class GrainStateConflictException(string message) : Exception(message);

/// <summary>The append lost the fence: another writer moved the line, or the operation id is already in the ledger.</summary>
public sealed class LedgerConflictException(string message) : Exception(message);

/// <summary>A line's new earliest pending hold expiry; <see cref="At"/> null when no hold is pending.</summary>
public readonly record struct ExpiryUpdate(DateTimeOffset? At);
