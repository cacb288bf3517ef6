using Microsoft.Extensions.Logging.Abstractions;
using Orleans.Storage;
using StockGrains.Grains.Reservations;
using StockGrains.Grains.Storage;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Storage;

/// <summary>
/// What every ledger store must do, run against each real database: the fence, exactly-once operation ids,
/// append-only entries, and reads in order.
/// </summary>
public abstract class LedgerStoreContractTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    protected abstract Task<ILedgerStore> StoreAsync();

    /// <summary>A second store on the same database, as a second silo has.</summary>
    protected abstract ILedgerStore SecondStore();

    /// <summary>Tries to change or delete an entry behind the store's back; must throw.</summary>
    protected abstract Task TamperAsync(string line);

    /// <summary>Holds the database's write lock, as a long transaction of another client would, until disposed.</summary>
    protected abstract Task<IAsyncDisposable> HoldWritesAsync();

    protected static LedgerEntry Receipt(long sequence, string operationId) =>
        new(sequence, LedgerEntryKind.Received, 1, null, null, operationId, "op", null, At, sequence, 0, 0, 0, NegativeStockPolicy.Block, null, "receive|1|")
        {
            Note = "n",
            AlertCauseAfter = sequence == 2 ? 1 : null,
        };

    /// <summary>An entry with every optional field filled.</summary>
    private static LedgerEntry Filled(long sequence) =>
        new(sequence, LedgerEntryKind.Counted, 2, "cycle count", "res-1", "count-1", "op", "ref-9", At, 8, 0, 0, 1,
            NegativeStockPolicy.Approval, At.AddMinutes(5), "count|2|")
        {
            Note = "shelf B", Unit = "case", UnitQuantity = 12, CountedQuantity = 8, CountStartedAtSequence = 0, Counterparty = "w9",
            ApprovalId = "appr-1", AlertCauseAfter = 1,
        };

    /// <summary>A reservation, which leaves every optional field empty.</summary>
    private static LedgerEntry Bare(long sequence) =>
        new(sequence, LedgerEntryKind.Reserved, 1, null, null, $"r{sequence}", "load", null, At, 10, sequence, 0, 0, NegativeStockPolicy.Block, null, "reserve|1|");

    /// <summary>A transaction holding the database's write lock; disposing it rolls back, so a pooled connection goes back clean.</summary>
    protected sealed class HeldWrites(System.Data.Common.DbConnection connection) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await using (var rollback = connection.CreateCommand())
            {
                rollback.CommandText = "ROLLBACK";
                await rollback.ExecuteNonQueryAsync();
            }

            await connection.DisposeAsync();
        }
    }

    // Proves the fence: an append at a stale position fails, a reused operation id fails, and of eight racing writers exactly one wins.
    [Fact]
    public async Task A_stale_or_duplicate_append_fails_and_exactly_one_racer_wins()
    {
        var store = await StoreAsync();
        var line = $"{Fresh.Id("w")}/fence";
        await store.AppendAsync(line, 0, [Receipt(1, "a")]);
        await Assert.ThrowsAsync<LedgerConflictException>(() => store.AppendAsync(line, 0, [Receipt(1, "b")]));
        await Assert.ThrowsAsync<LedgerConflictException>(() => store.AppendAsync(line, 1, [Receipt(2, "a")]));

        var racing = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i =>
        {
            try
            {
                await store.AppendAsync(line, 1, [Receipt(2, $"racer-{i}"), Receipt(3, $"racer-{i}-b")]);
                return true;
            }
            catch (LedgerConflictException)
            {
                return false;
            }
        }));

        Assert.Equal(1, racing.Count(won => won));
        var entries = await store.ReadAsync(line, 0, 100);
        Assert.Equal([1L, 2L, 3L], entries.Select(e => e.Sequence));
        Assert.Equal(entries[1].OperationId + "-b", entries[2].OperationId);
    }

    // Proves a pipelined append cannot land on another writer's entry: the position matches, the predecessor does not.
    [Fact]
    public async Task An_append_behind_an_entry_that_never_landed_fails_even_at_the_expected_position()
    {
        var store = await StoreAsync();
        var line = $"{Fresh.Id("w")}/chain";
        await store.AppendAsync(line, 0, [Receipt(1, "theirs")]);
        await Assert.ThrowsAsync<LedgerConflictException>(() => store.AppendAsync(line, 1, [Receipt(2, "mine-2")], previousOperationId: "mine-1"));
        await store.AppendAsync(line, 1, [Receipt(2, "after-theirs")], previousOperationId: "theirs");
        Assert.Equal(["theirs", "after-theirs"], (await store.ReadAsync(line, 0, 10)).Select(e => e.OperationId));
    }

    // Proves one refused append fails alone, whether it reuses an operation id or expects a position another writer has taken: appends of other lines written in the same moment are all durable.
    [Fact]
    public async Task A_refused_append_fails_alone_among_many_written_at_once()
    {
        var store = await StoreAsync();
        var refused = $"{Fresh.Id("w")}/refused";
        var behind = $"{Fresh.Id("w")}/behind";
        await store.AppendAsync(refused, 0, [Receipt(1, "taken")]);
        await store.AppendAsync(behind, 0, [Receipt(1, "theirs-1")]);
        await store.AppendAsync(behind, 1, [Receipt(2, "theirs-2")]);
        var others = Enumerable.Range(0, 50).Select(i => $"{Fresh.Id("w")}/other-{i}").ToArray();
        var duplicate = store.AppendAsync(refused, 1, [Receipt(2, "taken")]);
        var stale = store.AppendAsync(behind, 1, [Receipt(2, "mine-2"), Receipt(3, "mine-3")]);
        var good = others.Select(line => store.AppendAsync(line, 0, [Receipt(1, "first"), Receipt(2, "second")])).ToArray();
        await Assert.ThrowsAsync<LedgerConflictException>(() => duplicate);
        await Assert.ThrowsAsync<LedgerConflictException>(() => stale);
        await Task.WhenAll(good);
        foreach (var line in others)
        {
            Assert.Equal([1L, 2L], (await store.ReadAsync(line, 0, 10)).Select(e => e.Sequence));
        }

        Assert.Single(await store.ReadAsync(refused, 0, 10));
        Assert.Equal(["theirs-1", "theirs-2"], (await store.ReadAsync(behind, 0, 10)).Select(e => e.OperationId));
    }

    // Proves grain states are fenced by version: a write over a version already replaced fails, and of two first writes exactly one wins.
    [Fact]
    public async Task A_grain_state_write_over_a_stale_version_fails_and_one_first_write_wins()
    {
        var store = await StoreAsync();
        var second = SecondStore();
        var id = $"reservation/{Fresh.Id("order")}";
        Assert.Null(await store.ReadGrainStateAsync(id));
        var firsts = await Task.WhenAll(new[] { store, second }.Select(async (s, i) =>
        {
            try
            {
                return await s.WriteGrainStateAsync(id, null, [(byte)i]);
            }
            catch (GrainStateConflictException)
            {
                return 0;
            }
        }));
        Assert.Equal([0L, 1L], firsts.Order());
        var winner = (await store.ReadGrainStateAsync(id))!;
        Assert.Equal(1, winner.Version);

        Assert.Equal(2, await store.WriteGrainStateAsync(id, 1, [7, 8]));
        await Assert.ThrowsAsync<GrainStateConflictException>(() => second.WriteGrainStateAsync(id, 1, [9]));
        Assert.Equal(3, await store.WriteGrainStateAsync(id, 2, null));
        var cleared = (await store.ReadGrainStateAsync(id))!;
        Assert.Equal(3, cleared.Version);
        Assert.Null(cleared.Payload);
    }

    // Proves reads of many grain states at once, gathered into few queries, each get their own state: a written one, a cleared one, none, and the same id twice.
    [Fact]
    public async Task Many_grain_state_reads_at_once_each_get_their_own_state()
    {
        var store = await StoreAsync();
        var ids = Enumerable.Range(0, 40).Select(i => $"reservation/{Fresh.Id("order")}-{i}").ToArray();
        foreach (var (id, i) in ids.Select((id, i) => (id, i)).Where(x => x.i % 3 != 2))
        {
            // Every third id is never written; of the rest, every fifth is written and then cleared.
            var version = await store.WriteGrainStateAsync(id, null, [(byte)i, 1]);
            if (i % 5 == 0)
            {
                await store.WriteGrainStateAsync(id, version, null);
            }
        }

        var asked = ids.Concat(ids.Take(5)).ToArray();
        var states = await Task.WhenAll(asked.Select(id => store.ReadGrainStateAsync(id)));
        for (var k = 0; k < asked.Length; k++)
        {
            var i = Array.IndexOf(ids, asked[k]);
            if (i % 3 == 2)
            {
                Assert.Null(states[k]);
            }
            else if (i % 5 == 0)
            {
                Assert.Equal(2L, states[k]!.Version);
                Assert.Null(states[k]!.Payload);
            }
            else
            {
                Assert.Equal(1L, states[k]!.Version);
                Assert.Equal([(byte)i, 1], states[k]!.Payload);
            }
        }
    }

    // Proves the order storage keeps Orleans' contract on both databases: an activation writing over a state it read before another wrote it gets InconsistentStateException.
    [Fact]
    public async Task A_stale_activation_cannot_write_over_an_order_state()
    {
        var first = new GroupCommitGrainStorage(await StoreAsync(), new SnapshotSerializer());
        var second = new GroupCommitGrainStorage(SecondStore(), new SnapshotSerializer());
        var grain = GrainId.Create("reservation", Fresh.Id("order"));
        var a = new GrainState<ReservationState>();
        var b = new GrainState<ReservationState>();
        await first.ReadStateAsync("reservation", grain, a);
        await second.ReadStateAsync("reservation", grain, b);
        Assert.False(a.RecordExists);

        a.State = new ReservationState { Fingerprint = "a" };
        await first.WriteStateAsync("reservation", grain, a);
        b.State = new ReservationState { Fingerprint = "b" };
        await Assert.ThrowsAsync<InconsistentStateException>(() => second.WriteStateAsync("reservation", grain, b));

        var c = new GrainState<ReservationState>();
        await second.ReadStateAsync("reservation", grain, c);
        Assert.True(c.RecordExists);
        Assert.Equal("a", c.State!.Fingerprint);
        c.State.Fingerprint = "c";
        await second.WriteStateAsync("reservation", grain, c);
        await Assert.ThrowsAsync<InconsistentStateException>(() => first.WriteStateAsync("reservation", grain, a));
    }

    // Proves grain states and ledger appends written at the same moment are all durable, and a stale state write fails alone among them.
    [Fact]
    public async Task Grain_states_and_appends_share_transactions_and_a_stale_state_fails_alone()
    {
        var store = await StoreAsync();
        var stale = $"reservation/{Fresh.Id("stale")}";
        await store.WriteGrainStateAsync(stale, null, [1]);
        var ids = Enumerable.Range(0, 40).Select(i => $"reservation/{Fresh.Id("order")}-{i}").ToArray();
        var lines = Enumerable.Range(0, 40).Select(i => $"{Fresh.Id("w")}/mixed-{i}").ToArray();
        var refused = store.WriteGrainStateAsync(stale, 5, [2]);
        var writes = ids.Select(id => store.WriteGrainStateAsync(id, null, [3, 4])).ToArray();
        var appends = lines.Select(line => store.AppendAsync(line, 0, [Receipt(1, "first")])).ToArray();
        await Assert.ThrowsAsync<GrainStateConflictException>(() => refused);
        Assert.All(await Task.WhenAll(writes), version => Assert.Equal(1, version));
        await Task.WhenAll(appends);
        foreach (var id in ids)
        {
            Assert.Equal([3, 4], (await store.ReadGrainStateAsync(id))!.Payload);
        }

        foreach (var line in lines)
        {
            Assert.Single(await store.ReadAsync(line, 0, 10));
        }

        Assert.Equal([1], (await store.ReadGrainStateAsync(stale))!.Payload);
    }

    // Proves two silos writing the first entry of one line at the same moment cannot both succeed: exactly one wins.
    [Fact]
    public async Task Two_writers_racing_for_the_first_entry_of_a_line_cannot_both_win()
    {
        var first = await StoreAsync();
        var second = SecondStore();
        for (var round = 0; round < 10; round++)
        {
            var line = $"{Fresh.Id("w")}/first";
            var results = await Task.WhenAll(new[] { first, second }.Select(async (store, i) =>
            {
                try
                {
                    await store.AppendAsync(line, 0, [Receipt(1, $"writer-{i}")]);
                    return true;
                }
                catch (LedgerConflictException)
                {
                    return false;
                }
            }));
            Assert.Equal(1, results.Count(won => won));
            Assert.Single(await first.ReadAsync(line, 0, 10));
        }
    }

    // Proves entries round-trip exactly, including the fields operators record, and reads page in order.
    [Fact]
    public async Task Entries_round_trip_and_page_in_order()
    {
        var store = await StoreAsync();
        var line = $"{Fresh.Id("w")}/pages";
        await store.AppendAsync(line, 0, [Receipt(1, "a"), Receipt(2, "b"), Receipt(3, "c")]);
        Assert.Equal(Receipt(2, "b"), (await store.ReadAsync(line, 1, 1)).Single());
        Assert.Equal(["c"], (await store.ReadAsync(line, 2, 10)).Select(e => e.OperationId));
        Assert.Equal("b", (await store.FindAsync(line, "b")).Single().OperationId);
        Assert.Contains(line, await store.LinesOfSkuAsync("pages", 100));
    }

    // Proves a SKU's latest balances come from the last entry of each of its lines, in warehouse order, no other SKU's, and that each such read is counted (the count the load generator's reads check relies on).
    [Fact]
    public async Task The_latest_entry_of_each_line_of_a_sku_is_read_and_counted()
    {
        var store = await StoreAsync();
        var sku = Fresh.Id("sku");
        var (a, b) = ($"a{Fresh.Id("w")}/{sku}", $"b{Fresh.Id("w")}/{sku}");
        await store.AppendAsync(a, 0, [Receipt(1, "a1"), Receipt(2, "a2")]);
        await store.AppendAsync(b, 0, [Receipt(1, "b1")]);
        await store.AppendAsync($"{Fresh.Id("w")}/{sku}-other", 0, [Receipt(1, "o1")]);

        var reads = store.Counters.SkuReads;
        var latest = await store.LatestOfSkuAsync(sku, 10);
        Assert.Equal([(a, "a2"), (b, "b1")], latest.Select(l => (l.Line, l.Latest.OperationId)));
        Assert.Equal(1, store.Counters.SkuReads - reads);
    }

    // Proves a column empty in every entry of a transaction reads back empty, while another line in the same transaction keeps every optional field.
    [Fact]
    public async Task Optional_fields_round_trip_whether_a_transaction_fills_them_or_leaves_them_all_empty()
    {
        var store = await StoreAsync();
        var (sparse, full) = ($"{Fresh.Id("w")}/sparse", $"{Fresh.Id("w")}/full");
        var filled = Filled(1);

        // Written together, the two appends usually share one transaction: one line's values fill a column the other leaves empty.
        await Task.WhenAll(store.AppendAsync(sparse, 0, [Bare(1), Bare(2), Bare(3)]), store.AppendAsync(full, 0, [filled]));

        Assert.Equal([Bare(1), Bare(2), Bare(3)], await store.ReadAsync(sparse, 0, 10));
        Assert.Equal(filled, (await store.ReadAsync(full, 0, 10)).Single());
    }

    // Proves the writer carries nothing from one transaction into the next: entries that leave a column empty, written right after entries that filled it, read back empty.
    [Fact]
    public async Task A_transaction_after_one_that_filled_every_column_writes_only_its_own_values()
    {
        var store = await StoreAsync();
        var line = $"{Fresh.Id("w")}/after-full";
        var filled = Filled(1);

        await store.AppendAsync(line, 0, [filled]);
        await store.AppendAsync(line, 1, [Bare(2), Bare(3)]);
        await store.AppendAsync(line, 3, [Bare(4)]);

        Assert.Equal([filled, Bare(2), Bare(3), Bare(4)], await store.ReadAsync(line, 0, 10));
    }

    // Proves an open append takes a line's next entries while the writer is busy, takes none once the writer has it, and writes exactly what it took, with the expiry its last change set.
    [Fact]
    public async Task An_open_append_takes_entries_until_the_writer_takes_it_and_none_after()
    {
        var store = await StoreAsync();
        var other = $"{Fresh.Id("w")}/busy";
        var line = LineOnWriter(RelationalLedgerStore.WriterOf(other, Writers), "open");
        Task busy;
        ILedgerAppend open;
        await using (await HoldWritesAsync())
        {
            busy = store.AppendAsync(other, 0, [Receipt(1, "a")]);
            await LedgerWriters.BusyAsync(store);
            open = store.BeginAppend(line, 0, Receipt(1, "r1"));
            for (var sequence = 2; sequence <= 5; sequence++)
            {
                Assert.True(open.TryAdd(Receipt(sequence, $"r{sequence}"), sequence == 5 ? new ExpiryUpdate(At) : null));
            }
        }

        await busy;
        await open.Durable;
        Assert.False(open.TryAdd(Receipt(6, "r6"), null));
        Assert.Equal(["r1", "r2", "r3", "r4", "r5"], (await store.ReadAsync(line, 0, 10)).Select(e => e.OperationId));
        Assert.Contains(line, await store.DueLinesAsync(At, 1_000));

        // The refused entry starts the next append, behind the last one the first append took.
        await store.BeginAppend(line, 5, Receipt(6, "r6"), previousOperationId: "r5").Durable;
        Assert.Equal(6, (await store.ReadAsync(line, 0, 10)).Count);
    }

    // Proves appends of one line written in one transaction stand or fall by their own fences: one that names a predecessor other than the entry before it fails, though its position follows.
    [Fact]
    public async Task An_append_joined_behind_another_fails_when_it_names_another_predecessor()
    {
        var store = await StoreAsync();
        var other = $"{Fresh.Id("w")}/busy";
        var line = LineOnWriter(RelationalLedgerStore.WriterOf(other, Writers), "joined");
        await store.AppendAsync(line, 0, [Receipt(1, "first")]);
        Task busy, theirs, mine;
        await using (await HoldWritesAsync())
        {
            // While the writer waits on its first transaction, two activations' appends of the line queue for the next one.
            busy = store.AppendAsync(other, 0, [Receipt(1, "a")]);
            await LedgerWriters.BusyAsync(store);
            theirs = store.AppendAsync(line, 1, [Receipt(2, "theirs-2")]);
            mine = store.AppendAsync(line, 2, [Receipt(3, "mine-3")], previousOperationId: "mine-2");
        }

        await busy;
        await theirs;
        await Assert.ThrowsAsync<LedgerConflictException>(() => mine);
        Assert.Equal(["first", "theirs-2"], (await store.ReadAsync(line, 0, 10)).Select(e => e.OperationId));
    }

    /// <summary>The ledger writers the store under test runs: a line waits behind another only when both have the same one.</summary>
    protected virtual int Writers => 1;

    /// <summary>A fresh line whose appends go to writer <paramref name="writer"/> of the store under test.</summary>
    protected string LineOnWriter(int writer, string name)
    {
        while (true)
        {
            var line = $"{Fresh.Id("w")}/{name}";
            if (RelationalLedgerStore.WriterOf(line, Writers) == writer)
            {
                return line;
            }
        }
    }

    // Proves lookups asked together share queries, and each still gets exactly the entries of its own id on its own line, oldest first.
    [Fact]
    public async Task Lookups_asked_together_share_queries_and_each_gets_only_its_own_entries()
    {
        var store = await StoreAsync();
        var (line, other) = ($"{Fresh.Id("w")}/found", $"{Fresh.Id("w")}/found");
        LedgerEntry Entry(long sequence, LedgerEntryKind kind, string operationId, string? reservationId = null, string? approvalId = null) =>
            Receipt(sequence, operationId) with { Kind = kind, ReservationId = reservationId, ApprovalId = approvalId };
        await store.AppendAsync(line, 0,
        [
            Entry(1, LedgerEntryKind.Received, "in"),
            Entry(2, LedgerEntryKind.Reserved, "h", reservationId: "h"),
            Entry(3, LedgerEntryKind.Committed, "c", reservationId: "h"),
            Entry(4, LedgerEntryKind.ApprovalRequested, "p", approvalId: "p"),
            Entry(5, LedgerEntryKind.Adjusted, "ok", approvalId: "p"),
            Entry(6, LedgerEntryKind.Shipped, "s", reservationId: "h"),
        ]);
        await store.AppendAsync(other, 0, [Entry(1, LedgerEntryKind.Received, "h")]);
        var expected = new Dictionary<(string, string), long[]>
        {
            [(line, "in")] = [1], [(line, "h")] = [2, 3, 6], [(line, "c")] = [3], [(line, "p")] = [4, 5], [(line, "ok")] = [5],
            [(line, "s")] = [6], [(line, "new")] = [], [(other, "h")] = [1], [(other, "in")] = [],
        };

        var (lookups, queries) = (store.Counters.Lookups, store.Counters.LookupQueries);
        var asked = Enumerable.Range(0, 256).Select(i => expected.Keys.ElementAt(i % expected.Count)).ToArray();
        var found = await Task.WhenAll(asked.Select(a => store.FindAsync(a.Item1, a.Item2)));

        for (var i = 0; i < asked.Length; i++)
        {
            Assert.Equal(expected[asked[i]], found[i].Select(e => e.Sequence));
        }

        Assert.Equal(256, store.Counters.Lookups - lookups);
        var shared = store.Counters.LookupQueries - queries;
        Assert.True(shared <= 256 / 4, $"{shared} queries answered 256 lookups asked at once");
    }

    // Proves the ledger is append-only in the database itself.
    [Fact]
    public async Task The_database_refuses_to_change_or_delete_an_entry()
    {
        var store = await StoreAsync();
        var line = $"{Fresh.Id("w")}/immutable";
        await store.AppendAsync(line, 0, [Receipt(1, "a")]);
        await TamperAsync(line);
        Assert.Equal(Receipt(1, "a"), (await store.ReadAsync(line, 0, 10)).Single());
    }
}

public sealed class SqliteLedgerStoreTests : LedgerStoreContractTests, IAsyncDisposable
{
    private SqliteDatabase? _database;
    private SqliteLedgerStore? _store;

    protected override Task<ILedgerStore> StoreAsync()
    {
        _database = new SqliteDatabase(Path.Combine(ServerHost.NewDataDirectory(), "ledger.db"));
        _database.Initialize();
        _store = new SqliteLedgerStore(_database, NullLogger<SqliteLedgerStore>.Instance);
        return Task.FromResult<ILedgerStore>(_store);
    }

    protected override ILedgerStore SecondStore() => new SqliteLedgerStore(_database!, NullLogger<SqliteLedgerStore>.Instance);

    // Proves the upgrade that leaves a reservation's own entry out of the reservation index keeps a ledger written before it: a hold's entries are all still found by its id, through the rebuilt index.
    [Fact]
    public async Task A_ledger_written_before_the_narrower_reservation_index_is_found_by_id_after_the_upgrade()
    {
        var path = Path.Combine(ServerHost.NewDataDirectory(), "ledger.db");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path}"))
        {
            // The schema as a server of the version before left it.
            await connection.OpenAsync();
            var scripts = SchemaScripts.For("sqlite-").Where(s => s.Version < 6).Select(s =>
                $"{s.Text};\nINSERT INTO stockgrains_schema (version, applied_at) VALUES ({s.Version}, 'then');");
            await using var apply = connection.CreateCommand();
            apply.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE stockgrains_schema (version INTEGER NOT NULL PRIMARY KEY, applied_at TEXT NOT NULL);\n" +
                string.Join('\n', scripts);
            await apply.ExecuteNonQueryAsync();
        }

        _database = new SqliteDatabase(path);
        var line = $"{Fresh.Id("w")}/s";
        LedgerEntry Hold(long sequence, LedgerEntryKind kind, string operationId) => Receipt(sequence, operationId) with { Kind = kind, ReservationId = "h" };
        await using (var before = new SqliteLedgerStore(_database, NullLogger<SqliteLedgerStore>.Instance))
        {
            await before.AppendAsync(line, 0, [Receipt(1, "in"), Hold(2, LedgerEntryKind.Reserved, "h"), Hold(3, LedgerEntryKind.Committed, "c")]);
        }

        _database.Initialize();
        _store = new SqliteLedgerStore(_database, NullLogger<SqliteLedgerStore>.Instance);
        Assert.Equal([2L, 3L], (await _store.FindAsync(line, "h")).Select(e => e.Sequence));
        await _store.AppendAsync(line, 3, [Hold(4, LedgerEntryKind.Shipped, "s")]);
        Assert.Equal([2L, 3L, 4L], (await _store.FindAsync(line, "h")).Select(e => e.Sequence));

        // And the upgraded file answers a lookup through its indexes: the old reservation index cannot serve the new query.
        await using var read = await _database.OpenAsync();
        await using var explain = read.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + RelationalLedgerStore.FindOneSql;
        explain.Parameters.AddWithValue("@line", line);
        explain.Parameters.AddWithValue("@id", "h");
        var plan = new List<string>();
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(3));
            }
        }

        Assert.Equal(3, plan.Count(step => step.Contains("INDEX", StringComparison.Ordinal)));
    }

    protected override async Task TamperAsync(string line)
    {
        await using var connection = await _database!.OpenWriterAsync();
        foreach (var sql in new[] { "UPDATE stock_ledger SET quantity = 5 WHERE line = @l", "DELETE FROM stock_ledger WHERE line = @l" })
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("@l", line);
            await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => command.ExecuteNonQueryAsync());
        }
    }

    protected override async Task<IAsyncDisposable> HoldWritesAsync()
    {
        var connection = await _database!.OpenWriterAsync();
        await using (var begin = connection.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }

        return new HeldWrites(connection);
    }

    public async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }
    }
}

public sealed class PostgresLedgerStoreTests : LedgerStoreContractTests, IAsyncDisposable
{
    private PostgresDatabase? _database;
    private PostgresLedgerStore? _store;

    /// <summary>A database whose own collation sorts as a language does ('a' before 'B'), unlike the ledger's byte order.</summary>
    private const string LinguisticCollation = "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8' TEMPLATE template0";

    protected override Task<ILedgerStore> StoreAsync() => StoreAsync("");

    private async Task<ILedgerStore> StoreAsync(string databaseOptions)
    {
        _database = new PostgresDatabase(await PostgresTestDatabase.CreateAsync(databaseOptions));
        _database.Initialize();

        // A second initialisation, as a second silo starting, changes nothing.
        _database.Initialize();
        _store = new PostgresLedgerStore(_database, NullLogger<PostgresLedgerStore>.Instance);
        return _store;
    }

    protected override ILedgerStore SecondStore() => new PostgresLedgerStore(new PostgresDatabase(_database!.ConnectionString), NullLogger<PostgresLedgerStore>.Instance);

    protected override int Writers => _database?.WriterConnections ?? PostgresDatabase.DefaultWriterConnections;

    // Proves the writers commit side by side: while one waits on a row another transaction holds, a line of the other writer commits, and lines of the held one wait in order until it is released.
    [Fact]
    public async Task A_writer_held_up_by_the_database_does_not_hold_up_the_lines_of_another()
    {
        var store = await StoreAsync();
        Assert.Equal(2, _database!.WriterConnections);
        var held = LineOnWriter(0, "held");
        var behind = LineOnWriter(0, "behind");
        var free = LineOnWriter(1, "free");

        // Another session inserts the held line's row and keeps its transaction open: the writer's insert of the same row waits for it.
        await using var blocker = await _database.DataSource.OpenConnectionAsync();
        await using var transaction = await blocker.BeginTransactionAsync();
        await using (var insert = new Npgsql.NpgsqlCommand("INSERT INTO stock_lines (line, warehouse, sku) VALUES ($1, $2, $3)", blocker, transaction)
        {
            Parameters = { new() { Value = held }, new() { Value = StockKey.Parse(held).Warehouse }, new() { Value = StockKey.Parse(held).Sku } },
        })
        {
            await insert.ExecuteNonQueryAsync();
        }

        var first = store.AppendAsync(held, 0, [Receipt(1, "held-1")]);
        await WaitForLockWaitAsync();
        var queued = store.AppendAsync(behind, 0, [Receipt(1, "behind-1")]);
        await store.AppendAsync(free, 0, [Receipt(1, "free-1")]).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.False(first.IsCompleted);
        Assert.False(queued.IsCompleted);

        await transaction.RollbackAsync();
        await Task.WhenAll(first, queued).WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var (line, id) in new[] { (held, "held-1"), (behind, "behind-1"), (free, "free-1") })
        {
            Assert.Equal([id], (await store.ReadAsync(line, 0, 10)).Select(e => e.OperationId));
        }
    }

    /// <summary>Waits until some session of the test's database waits for a lock: the writer, on the blocker's row.</summary>
    private async Task WaitForLockWaitAsync()
    {
        await using var connection = await _database!.DataSource.OpenConnectionAsync();
        await using var look = new Npgsql.NpgsqlCommand(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", connection);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((long)(await look.ExecuteScalarAsync())! == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "The writer never waited for the blocker's row.");
            await Task.Delay(20);
        }
    }

    // Proves the grain-state identity is unique on PostgreSQL: of two concurrent first writes of one grain state, exactly one wins.
    [Fact]
    public async Task Two_first_writes_of_one_grain_state_cannot_both_succeed()
    {
        await StoreAsync();
        string query;
        await using (var connection = await _database!.DataSource.OpenConnectionAsync())
        await using (var read = new Npgsql.NpgsqlCommand("SELECT QueryText FROM OrleansQuery WHERE QueryKey = 'WriteToStorageKey'", connection))
        {
            query = (string)(await read.ExecuteScalarAsync())!;
        }

        var key = Fresh.Id("grain");
        var results = await Task.WhenAll(Enumerable.Range(0, 2).Select(async writer =>
        {
            await using var connection = await _database.DataSource.OpenConnectionAsync();
            await using var command = new Npgsql.NpgsqlCommand(query, connection);
            command.Parameters.AddWithValue("GrainIdHash", 7);
            command.Parameters.AddWithValue("GrainIdN0", 0L);
            command.Parameters.AddWithValue("GrainIdN1", 0L);
            command.Parameters.AddWithValue("GrainTypeHash", 9);
            command.Parameters.AddWithValue("GrainTypeString", "test");
            command.Parameters.AddWithValue("GrainIdExtensionString", key);
            command.Parameters.AddWithValue("ServiceId", "svc");
            command.Parameters.Add(new Npgsql.NpgsqlParameter("GrainStateVersion", System.Data.DbType.Int32) { Value = DBNull.Value });
            command.Parameters.AddWithValue("PayloadBinary", new[] { (byte)writer });
            return await command.ExecuteScalarAsync();
        }));

        Assert.Equal(1, results.Count(r => r is 1));
        Assert.Equal(1, results.Count(r => r is null));
    }

    // Proves the ledger's keys compare as bytes, as .NET's ordinal comparison does, even in a database whose own collation is linguistic and puts 'a' before 'B'.
    [Fact]
    public async Task Lines_are_listed_in_byte_order_even_in_a_database_whose_collation_is_linguistic()
    {
        var store = await StoreAsync(LinguisticCollation);
        await using (var connection = await _database!.DataSource.OpenConnectionAsync())
        await using (var collation = new Npgsql.NpgsqlCommand("SELECT 'w/a' < 'w/B'", connection))
        {
            // The database itself sorts linguistically, so the order below comes from the schema.
            Assert.Equal(true, await collation.ExecuteScalarAsync());
        }

        var warehouse = Fresh.Id("w");
        string[] lines = [$"{warehouse}/a", $"{warehouse}/B", $"{warehouse}/b"];
        foreach (var line in lines)
        {
            await store.AppendAsync(line, 0, [Receipt(1, Fresh.Id("op"))]);
        }

        Assert.Equal(lines.Order(StringComparer.Ordinal), await store.LinesAsync("", 10));
        Assert.Equal(lines.Order(StringComparer.Ordinal).Skip(1), await store.LinesAsync(lines.Order(StringComparer.Ordinal).First(), 10));
    }

    // Proves the upgrade to byte-order keys keeps a ledger written before it, in a database whose collation is linguistic: every entry reads back and is found by id, the fence still refuses a stale append, and lines list in byte order.
    [Fact]
    public async Task A_ledger_written_before_the_keys_compared_as_bytes_survives_the_upgrade()
    {
        var connectionString = await PostgresTestDatabase.CreateAsync(LinguisticCollation);
        await using (var connection = new Npgsql.NpgsqlConnection(connectionString))
        {
            // The schema as a silo of the version before left it.
            await connection.OpenAsync();
            await using (var table = new Npgsql.NpgsqlCommand("CREATE TABLE stockgrains_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())", connection))
            {
                await table.ExecuteNonQueryAsync();
            }

            foreach (var (version, script) in SchemaScripts.For("postgres-").Where(s => s.Version < 7))
            {
                await using var apply = new Npgsql.NpgsqlCommand($"{script};\nINSERT INTO stockgrains_schema (version) VALUES ({version})", connection);
                await apply.ExecuteNonQueryAsync();
            }
        }

        _database = new PostgresDatabase(connectionString);
        LedgerEntry Hold(long sequence, LedgerEntryKind kind, string operationId) => Receipt(sequence, operationId) with { Kind = kind, ReservationId = "h" };
        var warehouse = Fresh.Id("w");
        string[] lines = [$"{warehouse}/a", $"{warehouse}/B"];
        await using (var before = new PostgresLedgerStore(_database, NullLogger<PostgresLedgerStore>.Instance))
        {
            foreach (var line in lines)
            {
                await before.AppendAsync(line, 0, [Receipt(1, $"{line}/in"), Hold(2, LedgerEntryKind.Reserved, "h"), Hold(3, LedgerEntryKind.Committed, "c")]);
            }
        }

        _database.Initialize();
        _store = new PostgresLedgerStore(_database, NullLogger<PostgresLedgerStore>.Instance);
        foreach (var line in lines)
        {
            Assert.Equal([$"{line}/in", "h", "c"], (await _store.ReadAsync(line, 0, 10)).Select(e => e.OperationId));

            // The hold's own entry through the operation index, its commit through the rebuilt reservation index.
            Assert.Equal([2L, 3L], (await _store.FindAsync(line, "h")).Select(e => e.Sequence));
            await Assert.ThrowsAsync<LedgerConflictException>(() => _store.AppendAsync(line, 1, [Receipt(2, Fresh.Id("op"))]));
        }

        Assert.Equal(lines.Order(StringComparer.Ordinal), await _store.LinesAsync("", 10));
    }

    // Proves the fence's looks at the ledger go by key in the one plan the writer keeps for the insert as it sends it, made while the ledger was empty: a hashed sub-plan or a look by line alone read the whole ledger on every transaction with a pipelined append.
    [Fact]
    public async Task The_fence_finds_its_entries_by_key_in_the_plan_made_on_an_empty_ledger()
    {
        var empty = string.Join(", ", Enumerable.Repeat("'{}'", PostgresLedgerStore.InsertParameterCount)) + ", 0";
        var plan = await GenericPlanAsync(PostgresLedgerStore.CheckedInsertSql, empty);
        var text = string.Join('\n', plan);
        Assert.DoesNotContain("Seq Scan on stock_ledger", text);
        Assert.DoesNotContain("hashed SubPlan", text);

        // One look, at the entry a pipelined append follows, on two columns of a unique index; the head is the primary key's to guard.
        var conditions = plan.Where(l => l.Contains("Index Cond", StringComparison.Ordinal)).ToList();
        Assert.Single(conditions);
        Assert.All(conditions, c => Assert.Contains(" AND ", c));

        // With no pipelined append in the transaction the writer sends the plain insert, which reads nothing of the ledger.
        var plain = await GenericPlanAsync(PostgresLedgerStore.CheckedPlainInsertSql,
            string.Join(", ", Enumerable.Repeat("'{}'", PostgresLedgerStore.PlainInsertParameterCount)) + ", 0");
        Assert.DoesNotContain(plain, l => l.Contains("Scan", StringComparison.Ordinal) && l.Contains("stock_ledger", StringComparison.Ordinal));
    }

    // Proves a batch of lookups finds each id on two columns of an index even in the generic plan made on an empty ledger: planned as a join, it read the whole ledger.
    [Fact]
    public async Task Lookups_find_each_id_by_index_in_the_plan_made_on_an_empty_ledger()
    {
        var plan = await GenericPlanAsync(PostgresLedgerStore.FindManySql, "'{}', '{}'");
        Assert.DoesNotContain(plan, l => l.Contains("Seq Scan on stock_ledger", StringComparison.Ordinal));
        var conditions = plan.Where(l => l.Contains("Index Cond", StringComparison.Ordinal)).ToList();
        Assert.Equal(3, conditions.Count);
        Assert.All(conditions, c => Assert.Contains(" AND ", c));
    }

    /// <summary>
    /// The plan PostgreSQL keeps for <paramref name="sql"/> once it stops planning each execution afresh, on this test's
    /// empty ledger: the statement prepared, the generic plan forced, and explained for <paramref name="arguments"/>.
    /// </summary>
    private async Task<List<string>> GenericPlanAsync(string sql, string arguments)
    {
        await StoreAsync();
        await using var connection = await _database!.DataSource.OpenConnectionAsync();
        await using (var prepare = new Npgsql.NpgsqlCommand($"SET plan_cache_mode = force_generic_plan; PREPARE planned AS {sql}", connection))
        {
            await prepare.ExecuteNonQueryAsync();
        }

        var plan = new List<string>();
        await using (var explain = new Npgsql.NpgsqlCommand($"EXPLAIN EXECUTE planned({arguments})", connection))
        await using (var reader = await explain.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                plan.Add(reader.GetString(0));
            }
        }

        await using (var reset = new Npgsql.NpgsqlCommand("DEALLOCATE planned; RESET plan_cache_mode", connection))
        {
            await reset.ExecuteNonQueryAsync();
        }

        return plan;
    }

    protected override async Task<IAsyncDisposable> HoldWritesAsync()
    {
        // A share lock lets readers through but no insert, like a long-running maintenance transaction would.
        var connection = await _database!.DataSource.OpenConnectionAsync();
        await using (var hold = new Npgsql.NpgsqlCommand("BEGIN; LOCK TABLE stock_ledger IN SHARE MODE", connection))
        {
            await hold.ExecuteNonQueryAsync();
        }

        return new HeldWrites(connection);
    }

    protected override async Task TamperAsync(string line)
    {
        foreach (var sql in new[] { "UPDATE stock_ledger SET quantity = 5 WHERE line = @l", "DELETE FROM stock_ledger WHERE line = @l" })
        {
            await using var connection = await _database!.DataSource.OpenConnectionAsync();
            await using var command = new Npgsql.NpgsqlCommand(sql, connection);
            command.Parameters.AddWithValue("l", line);
            await Assert.ThrowsAsync<Npgsql.PostgresException>(() => command.ExecuteNonQueryAsync());
        }
    }

    // Proves cluster-mode durability settings: synchronous_commit stays on.
    [Fact]
    public async Task Commits_are_synchronous()
    {
        await StoreAsync();
        await using var connection = await _database!.DataSource.OpenConnectionAsync();
        await using var command = new Npgsql.NpgsqlCommand("SHOW synchronous_commit", connection);
        Assert.Equal("on", await command.ExecuteScalarAsync());
    }

    public async ValueTask DisposeAsync()
    {
        if (_store is not null)
        {
            await _store.DisposeAsync();
        }

        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
