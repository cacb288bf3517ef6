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

    private static async Task<long> SnapshotCountAsync(ServerHost host)
    {
        await using var connection = await host.Database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM OrleansStorage WHERE GrainIdExtensionString = 'w1/mug' AND PayloadBinary IS NOT NULL";
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
