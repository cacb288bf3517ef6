using Microsoft.Extensions.DependencyInjection;
using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Storage;

/// <summary>Restarts: a new silo on the same store must find every acknowledged change — on SQLite and on PostgreSQL.</summary>
public sealed class DurabilityTests
{
    // Proves acknowledged means durable on the embedded store: after a restart on the same file the line, its holds, its idempotent answers and the availability read model are intact.
    [Fact]
    public Task A_new_silo_on_the_same_file_finds_the_line_its_holds_and_its_idempotent_answers() => RestartAsync([]);

    // Proves the same on PostgreSQL: a new silo on the same database finds everything that was acknowledged.
    [Fact]
    public async Task A_new_silo_on_the_same_postgres_database_finds_everything_that_was_acknowledged() =>
        await RestartAsync(["--StockGrains:Store=PostgreSql", $"--StockGrains:ConnectionString={await PostgresTestDatabase.CreateAsync()}"]);

    private static async Task RestartAsync(string[] store)
    {
        var line = StockKey.Create("w1", "mug").ToString();
        StockLineView before;
        var dataDirectory = ServerHost.NewDataDirectory();

        // A small snapshot interval makes the restart load a snapshot and replay a tail.
        string[] settings = ["--StockGrains:StockLine:SnapshotEvery=5", .. store];
        await using (var first = await ServerHost.StartAsync(dataDirectory, null, settings))
        {
            var grain = first.Grains.GetGrain<IStockLineGrain>(line);
            await grain.ReceiveAsync(new ReceiveCommand("receipt-1", 10, "op"));
            for (var i = 0; i < 7; i++)
            {
                await grain.ReceiveAsync(new ReceiveCommand($"small-{i}", 1, "op"));
            }

            var order = first.Grains.GetGrain<IReservationGrain>("order-1");
            Assert.Equal(ReservationOutcome.Placed, (await order.PlaceAsync(Place(3))).Outcome);
            var refused = first.Grains.GetGrain<IReservationGrain>("order-2");
            Assert.Equal(ReservationOutcome.InsufficientStock, (await refused.PlaceAsync(Place(100))).Outcome);
            before = await grain.GetAsync();
        }

        await using var second = await ServerHost.StartAsync(dataDirectory, null, settings);
        var again = second.Grains.GetGrain<IStockLineGrain>(line);
        Assert.Equal(before, await again.GetAsync());
        Assert.Equal(HoldStatus.Pending, (await again.GetHoldAsync("order-1"))!.Status);
        Assert.Equal(StockLineOutcome.AlreadyReceived, (await again.ReceiveAsync(new ReceiveCommand("receipt-1", 10, "op"))).Outcome);
        Assert.Equal(StockLineOutcome.OperationIdReused, (await again.ReceiveAsync(new ReceiveCommand("receipt-1", 11, "op"))).Outcome);

        var order1 = await second.Grains.GetGrain<IReservationGrain>("order-1").PlaceAsync(Place(3));
        Assert.Equal(ReservationOutcome.AlreadyPlaced, order1.Outcome);
        Assert.Equal(ReservationStatus.Pending, order1.Reservation!.Status);
        Assert.Equal(ReservationOutcome.InsufficientStock, (await second.Grains.GetGrain<IReservationGrain>("order-2").PlaceAsync(Place(100))).Outcome);
        Assert.Equal(ReservationOutcome.ReservationIdReused, (await second.Grains.GetGrain<IReservationGrain>("order-1").PlaceAsync(Place(4))).Outcome);
        Assert.Equal(before, await again.GetAsync());
        if (store.Length == 0)
        {
            Assert.True(await SnapshotCountAsync(second) > 0, "the line wrote a snapshot that the restart loaded");
        }

        // The availability read model is memory only: after the restart it is rebuilt from the store.
        await second.Grains.GetGrain<StockGrains.TradePolicies.ITradePolicyGrain>("web").DefineAsync(["w1"], StockGrains.TradePolicies.AllocationStrategy.Priority);
        var rebuilt = await StockGrains.TradePolicies.Availability.AvailabilityAsync(second.Grains, "mug", ["w1"]);
        Assert.Equal(before.Available, Assert.Single(rebuilt).Available);

        static PlaceReservation Place(long quantity) => new([new ReservationLineRequest("mug", "w1", quantity)], 600, "checkout");
    }

    // Proves a line whose ledger is behind its snapshot (a ledger restored without its latest entries) refuses to come up, on the embedded store, rather than write past the gap.
    [Fact]
    public Task A_line_whose_ledger_is_behind_its_snapshot_refuses_to_activate() => LedgerBehindSnapshotAsync([]);

    // Proves the same on PostgreSQL, whose fence leaves the line's head to the primary key and would otherwise let the line append past the gap.
    [Fact]
    public async Task On_postgres_a_line_whose_ledger_is_behind_its_snapshot_refuses_to_activate() =>
        await LedgerBehindSnapshotAsync(["--StockGrains:Store=PostgreSql", $"--StockGrains:ConnectionString={await PostgresTestDatabase.CreateAsync()}"]);

    private static async Task LedgerBehindSnapshotAsync(string[] store)
    {
        var line = StockKey.Create("w1", Fresh.Id("behind")).ToString();
        var dataDirectory = ServerHost.NewDataDirectory();
        string[] settings = ["--StockGrains:StockLine:SnapshotEvery=2", .. store];
        await using (var first = await ServerHost.StartAsync(dataDirectory, null, settings))
        {
            var grain = first.Grains.GetGrain<IStockLineGrain>(line);
            await grain.ReceiveAsync(new ReceiveCommand("receipt-1", 10, "op"));
            await grain.ReceiveAsync(new ReceiveCommand("receipt-2", 1, "op"));

            // The snapshot at sequence 2 is written in the background once both entries are durable; then it is moved
            // three entries past the ledger's end, as if the ledger had lost them.
            var moved = 0;
            for (var i = 0; i < 50 && (moved = await MoveSnapshotAsync(first, line, from: 2, to: 5)) == 0; i++)
            {
                await Task.Delay(100);
            }

            Assert.Equal(1, moved);
        }

        await using var second = await ServerHost.StartAsync(dataDirectory, null, settings);
        var again = second.Grains.GetGrain<IStockLineGrain>(line);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => again.ReceiveAsync(new ReceiveCommand("receipt-3", 1, "op")));
        Assert.Contains("the ledger is behind its snapshot", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal([1L, 2L], (await second.Store.ReadAsync(line, 0, 10)).Select(e => e.Sequence));
    }

    /// <summary>Rewrites the line's stored snapshot from one sequence to another; the rows changed (0 while none is stored at <paramref name="from"/>).</summary>
    private static async Task<int> MoveSnapshotAsync(ServerHost host, string line, long from, long to)
    {
        var (before, after) = ($"\"sequence\":{from},\"onHand\"", $"\"sequence\":{to},\"onHand\"");
        if (host.App.Services.GetService<StockGrains.Grains.Storage.PostgresDatabase>() is { } postgres)
        {
            await using var connection = await postgres.DataSource.OpenConnectionAsync();
            await using var update = new Npgsql.NpgsqlCommand(
                "UPDATE OrleansStorage SET PayloadBinary = convert_to(replace(convert_from(PayloadBinary, 'UTF8'), $1, $2), 'UTF8') " +
                "WHERE GrainIdExtensionString = $3 AND position($1 in convert_from(PayloadBinary, 'UTF8')) > 0", connection)
            {
                Parameters = { new() { Value = before }, new() { Value = after }, new() { Value = line } },
            };
            return await update.ExecuteNonQueryAsync();
        }

        await using var sqlite = await host.Database.OpenWriterAsync();
        await using var command = sqlite.CreateCommand();
        command.CommandText = "UPDATE OrleansStorage SET PayloadBinary = CAST(replace(CAST(PayloadBinary AS TEXT), $before, $after) AS BLOB) " +
            "WHERE GrainIdExtensionString = $line AND instr(CAST(PayloadBinary AS TEXT), $before) > 0";
        command.Parameters.AddWithValue("$before", before);
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$line", line);
        return await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> SnapshotCountAsync(ServerHost host)
    {
        await using var connection = await host.Database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = 'w1/mug' AND PayloadBinary IS NOT NULL";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
