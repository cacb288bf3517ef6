using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using StockGrains.Grains;
using StockGrains.Grains.Reservations;
using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Reservations;

/// <summary>An order whose silo died mid-saga is finished by the next silo from its stored progress.</summary>
public sealed class SagaRecoveryTests
{
    // Proves a saga interrupted after its first line was held ends complete or fully released after a restart, never partial, and a replay returns that final outcome;
    // also for an order stored by the ADO.NET storage that held orders before schema version 5, which moves it over.
    [Theory]
    [InlineData(StorageNames.Orders)]
    [InlineData(StorageNames.Snapshots)]
    public async Task An_interrupted_order_ends_all_held_or_all_released_after_a_restart(string storedIn)
    {
        var dataDirectory = ServerHost.NewDataDirectory();
        var complete = new PlaceReservation([new("s", "w1", 2), new("s", "w2", 3)], 600, "checkout");
        var doomed = new PlaceReservation([new("t", "w1", 2), new("t", "w2", 50)], 600, "checkout");

        await using (var before = await ServerHost.StartAsync(dataDirectory))
        {
            foreach (var line in new[] { "w1/s", "w2/s", "w1/t", "w2/t" })
            {
                await before.Grains.GetGrain<IStockLineGrain>(line).ReceiveAsync(new ReceiveCommand("in", 10, "op"));
            }

            // What the saga had done when the process died: its request stored, its first line held, nothing more.
            await InterruptedAsync(before, storedIn, "order-complete", complete);
            await InterruptedAsync(before, storedIn, "order-doomed", doomed);
            Assert.Equal(2, (await before.Grains.GetGrain<IStockLineGrain>("w1/s").GetAsync()).Reserved);
            Assert.Equal(2, (await before.Grains.GetGrain<IStockLineGrain>("w1/t").GetAsync()).Reserved);
        }

        if (storedIn == StorageNames.Snapshots)
        {
            // The file as a server before schema version 5 left it: no table of order states yet, orders in Orleans' storage.
            await using var connection = new SqliteConnection($"Data Source={Path.Combine(dataDirectory, "stockgrains.db")};Pooling=False");
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using var command = connection.CreateCommand();
            command.CommandText = "DROP TABLE grain_states; DELETE FROM stockgrains_schema WHERE version = 5;";
            await command.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
        }

        await using var after = await ServerHost.StartAsync(dataDirectory);
        var finished = await after.Grains.GetGrain<IReservationGrain>("order-complete").GetAsync();
        Assert.Equal(ReservationStatus.Pending, finished.Reservation!.Status);
        Assert.Equal(2, (await after.Grains.GetGrain<IStockLineGrain>("w1/s").GetAsync()).Reserved);
        Assert.Equal(3, (await after.Grains.GetGrain<IStockLineGrain>("w2/s").GetAsync()).Reserved);
        Assert.Equal(ReservationOutcome.AlreadyPlaced, (await after.Grains.GetGrain<IReservationGrain>("order-complete").PlaceAsync(complete)).Outcome);

        var released = await after.Grains.GetGrain<IReservationGrain>("order-doomed").PlaceAsync(doomed);
        Assert.Equal(ReservationOutcome.InsufficientStock, released.Outcome);
        Assert.Equal(0, (await after.Grains.GetGrain<IStockLineGrain>("w1/t").GetAsync()).Reserved);
        Assert.Equal(0, (await after.Grains.GetGrain<IStockLineGrain>("w2/t").GetAsync()).Reserved);
        Assert.Equal(ReservationOutcome.InsufficientStock, (await after.Grains.GetGrain<IReservationGrain>("order-doomed").PlaceAsync(doomed)).Outcome);
    }

    private static async Task InterruptedAsync(ServerHost host, string storedIn, string reservationId, PlaceReservation request)
    {
        var state = await StoredOrders.WriteAsync(host, reservationId, request, ReservationStatus.Placing, storedIn: storedIn);
        var first = request.Lines[0];
        var held = await host.Grains.GetGrain<IStockLineGrain>($"{first.Warehouse}/{first.Sku}")
            .ReserveAsync(new ReserveCommand(reservationId, first.Quantity, state.ExpiresAt.AddSeconds(30), request.Actor));
        Assert.Equal(StockLineOutcome.Reserved, held.Outcome);
    }
}
