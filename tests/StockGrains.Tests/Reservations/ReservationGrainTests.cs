using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using StockGrains.Grains;
using StockGrains.Grains.Reservations;
using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Reservations;

[Collection(nameof(ServerCollection))]
public sealed class ReservationGrainTests(ServerFixture fixture)
{
    private ServerHost Host => fixture.Host;

    private async Task<(string Warehouse, string Sku, IStockLineGrain Line)> StockedAsync(long onHand)
    {
        var warehouse = Fresh.Id("w");
        var sku = Fresh.Id("sku");
        var line = Host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(warehouse, sku).ToString());
        await line.ReceiveAsync(new ReceiveCommand("in", onHand, "op"));
        return (warehouse, sku, line);
    }

    private IReservationGrain Order() => Host.Grains.GetGrain<IReservationGrain>(Fresh.Id("order"));

    // Proves all or none: when the third line is short, the two lines already held are released and a replay returns the same refusal.
    [Fact]
    public async Task A_three_line_order_with_a_short_third_line_holds_nothing()
    {
        var a = await StockedAsync(5);
        var b = await StockedAsync(5);
        var c = await StockedAsync(1);
        var order = Order();
        var request = new PlaceReservation(
            [new(a.Sku, a.Warehouse, 2), new(b.Sku, b.Warehouse, 3), new(c.Sku, c.Warehouse, 2)], 600, "checkout");

        var result = await order.PlaceAsync(request);
        Assert.Equal(ReservationOutcome.InsufficientStock, result.Outcome);
        var shortLine = Assert.Single(result.Reservation!.ShortLines);
        Assert.Equal((c.Sku, 2L, 1L), (shortLine.Sku, shortLine.Requested, shortLine.Available));
        Assert.Equal(0, (await a.Line.GetAsync()).Reserved);
        Assert.Equal(0, (await b.Line.GetAsync()).Reserved);
        Assert.Equal(0, (await c.Line.GetAsync()).Reserved);

        Assert.Equal(ReservationOutcome.InsufficientStock, (await order.PlaceAsync(request)).Outcome);
        Assert.Equal(ReservationOutcome.NotFound, (await order.CommitAsync("checkout")).Outcome);
    }

    // Proves an order moves every line through commit and ship together, and repeats are harmless.
    [Fact]
    public async Task Commit_and_ship_move_every_line_together()
    {
        var a = await StockedAsync(5);
        var b = await StockedAsync(5);
        var order = Order();
        await order.PlaceAsync(new PlaceReservation([new(a.Sku, a.Warehouse, 2), new(b.Sku, b.Warehouse, 1)], 600, "checkout"));

        Assert.Equal(ReservationOutcome.InvalidTransition, (await order.ShipAsync("picker")).Outcome);
        Assert.Equal(ReservationOutcome.Committed, (await order.CommitAsync("picker")).Outcome);
        Assert.Equal(ReservationOutcome.Unchanged, (await order.CommitAsync("picker")).Outcome);
        Assert.Equal(2, (await a.Line.GetAsync()).Committed);
        Assert.Equal(ReservationOutcome.Shipped, (await order.ShipAsync("picker")).Outcome);
        Assert.Equal(ReservationOutcome.InvalidTransition, (await order.ReleaseAsync("picker")).Outcome);

        var lineA = await a.Line.GetAsync();
        var lineB = await b.Line.GetAsync();
        Assert.Equal((3L, 0L, 0L), (lineA.OnHand, lineA.Reserved, lineA.Committed));
        Assert.Equal((4L, 0L, 0L), (lineB.OnHand, lineB.Reserved, lineB.Committed));
    }

    // Proves orders leave memory when their calls end, open ones too by default, and that an open order called again reads its state and commits.
    [Fact]
    public async Task Orders_leave_memory_when_their_calls_end_and_an_open_one_commits_after()
    {
        var a = await StockedAsync(10);
        var pending = Order();
        var committed = Order();
        var shipped = Order();
        var released = Order();
        var refused = Order();
        var unknown = Order();
        PlaceReservation One(long quantity) => new([new(a.Sku, a.Warehouse, quantity)], 600, "checkout");
        Assert.Equal(ReservationOutcome.Placed, (await pending.PlaceAsync(One(1))).Outcome);
        Assert.Equal(ReservationOutcome.Placed, (await committed.PlaceAsync(One(1))).Outcome);
        Assert.Equal(ReservationOutcome.Committed, (await committed.CommitAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.Placed, (await shipped.PlaceAsync(One(1))).Outcome);
        Assert.Equal(ReservationOutcome.Committed, (await shipped.CommitAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.Shipped, (await shipped.ShipAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.Placed, (await released.PlaceAsync(One(1))).Outcome);
        Assert.Equal(ReservationOutcome.Released, (await released.ReleaseAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.InsufficientStock, (await refused.PlaceAsync(One(100))).Outcome);
        Assert.Equal(ReservationOutcome.NotFound, (await unknown.GetAsync()).Outcome);

        var orders = new[] { pending, committed, shipped, released, refused, unknown };
        var active = await ActiveOnceSettledAsync(Host, orders);
        Assert.DoesNotContain(active, orders.Select(o => o.GetGrainId()).Contains);

        // Called again, each reads its state: the open ones carry on where they were.
        Assert.Equal(ReservationOutcome.Committed, (await pending.CommitAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.Shipped, (await committed.ShipAsync("checkout")).Outcome);
        Assert.Equal(ReservationStatus.Shipped, (await shipped.GetAsync()).Reservation!.Status);
        Assert.Equal(ReservationStatus.Released, (await released.GetAsync()).Reservation!.Status);
        Assert.Equal(ReservationOutcome.InsufficientStock, (await refused.PlaceAsync(One(100))).Outcome);
        // Two units shipped; the one committed after its order came back is still reserved (reserved counts committed units).
        var line = await a.Line.GetAsync();
        Assert.Equal((8L, 1L, 1L), (line.OnHand, line.Reserved, line.Committed));
    }

    // Proves KeepOpenInMemory keeps pending and committed orders in memory between calls, while ended ones still leave.
    [Fact]
    public async Task With_keep_open_in_memory_open_orders_stay_and_ended_ones_leave()
    {
        await using var host = await ServerHost.StartAsync(null, null, "--StockGrains:Reservations:KeepOpenInMemory=true");
        var warehouse = Fresh.Id("w");
        var sku = Fresh.Id("sku");
        await host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(warehouse, sku).ToString()).ReceiveAsync(new ReceiveCommand("in", 5, "op"));
        IReservationGrain Order() => host.Grains.GetGrain<IReservationGrain>(Fresh.Id("order"));
        PlaceReservation One() => new([new(sku, warehouse, 1)], 600, "checkout");
        var (pending, committed, released) = (Order(), Order(), Order());
        Assert.Equal(ReservationOutcome.Placed, (await pending.PlaceAsync(One())).Outcome);
        Assert.Equal(ReservationOutcome.Placed, (await committed.PlaceAsync(One())).Outcome);
        Assert.Equal(ReservationOutcome.Committed, (await committed.CommitAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.Placed, (await released.PlaceAsync(One())).Outcome);
        Assert.Equal(ReservationOutcome.Released, (await released.ReleaseAsync("checkout")).Outcome);

        var active = await ActiveOnceSettledAsync(host, released);
        Assert.Contains(pending.GetGrainId(), active);
        Assert.Contains(committed.GetGrainId(), active);
        Assert.DoesNotContain(released.GetGrainId(), active);

        // A kept order's timer expires it on time, with nobody calling it: its unit comes back to the line.
        var line = host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(warehouse, sku).ToString());
        var brief = Order();
        Assert.Equal(ReservationOutcome.Placed, (await brief.PlaceAsync(new PlaceReservation([new(sku, warehouse, 1)], 1, "checkout"))).Outcome);
        var held = (await line.GetAsync()).Available;
        host.Clock.Advance(TimeSpan.FromSeconds(2));
        var available = held;
        for (var attempt = 0; attempt < 50 && available == held; attempt++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
            available = (await line.GetAsync()).Available;
        }

        Assert.Equal(held + 1, available);
    }

    /// <summary>
    /// The active orders once those in <paramref name="gone"/> have left: deactivation runs after the call has answered,
    /// so the list is read until it settles (at most 5 s).
    /// </summary>
    private static async Task<List<GrainId>> ActiveOnceSettledAsync(ServerHost host, params IReservationGrain[] gone)
    {
        var management = host.Grains.GetGrain<IManagementGrain>(0);
        var type = gone[0].GetGrainId().Type;
        var leaving = gone.Select(o => o.GetGrainId()).ToHashSet();
        List<GrainId> active = [];
        for (var attempt = 0; attempt < 50; attempt++)
        {
            active = await management.GetActiveGrains(type);
            if (!active.Any(leaving.Contains))
            {
                break;
            }

            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        return active;
    }

    // Proves an order expires at its stored time: every line's hold is let go, and commit afterwards is refused.
    [Fact]
    public async Task An_order_expires_at_its_time_and_frees_every_line()
    {
        var a = await StockedAsync(3);
        var order = Order();
        await order.PlaceAsync(new PlaceReservation([new(a.Sku, a.Warehouse, 3)], 120, "checkout"));
        Assert.Equal(0, (await a.Line.GetAsync()).Available);

        Host.Clock.Advance(TimeSpan.FromSeconds(121));
        var result = await order.GetAsync();
        Assert.Equal(ReservationStatus.Expired, result.Reservation!.Status);
        Assert.Equal(3, (await a.Line.GetAsync()).Available);
        Assert.Equal(ReservationOutcome.InvalidTransition, (await order.CommitAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.Unchanged, (await order.ReleaseAsync("checkout")).Outcome);
    }

    // Proves a released order frees its units and a second release is unchanged.
    [Fact]
    public async Task A_released_order_frees_its_units_once()
    {
        var a = await StockedAsync(4);
        var order = Order();
        await order.PlaceAsync(new PlaceReservation([new(a.Sku, a.Warehouse, 4)], 600, "checkout"));
        Assert.Equal(ReservationOutcome.Released, (await order.ReleaseAsync("checkout")).Outcome);
        Assert.Equal(ReservationOutcome.Unchanged, (await order.ReleaseAsync("checkout")).Outcome);
        Assert.Equal(4, (await a.Line.GetAsync()).Available);
        var kinds = (await a.Line.GetLedgerAsync(0, 100)).Entries.Select(e => e.Kind).ToList();
        Assert.Equal([LedgerEntryKind.Received, LedgerEntryKind.Reserved, LedgerEntryKind.Released], kinds);
    }
    // Proves an order whose commit reached only one of its lines, and was never asked again, frees both lines when it expires: no committed hold outlives it.
    [Fact]
    public async Task An_order_whose_commit_reached_one_line_frees_both_when_it_expires()
    {
        var a = await StockedAsync(5);
        var b = await StockedAsync(5);
        var id = Fresh.Id("order");
        var order = Host.Grains.GetGrain<IReservationGrain>(id);
        await order.PlaceAsync(new PlaceReservation([new(a.Sku, a.Warehouse, 2), new(b.Sku, b.Warehouse, 3)], 120, "checkout"));

        // What a commit whose call to the second line failed leaves behind: the first line's hold committed, the order still pending.
        Assert.Equal(StockLineOutcome.Committed, (await a.Line.CommitAsync(new HoldCommand(id, "checkout"))).Outcome);

        Host.Clock.Advance(TimeSpan.FromSeconds(121));
        Assert.Equal(ReservationStatus.Expired, (await order.GetAsync()).Reservation!.Status);
        var lineA = await a.Line.GetAsync();
        var lineB = await b.Line.GetAsync();
        Assert.Equal((5L, 0L, 0L, 5L), (lineA.OnHand, lineA.Reserved, lineA.Committed, lineA.Available));
        Assert.Equal((5L, 0L, 5L), (lineB.OnHand, lineB.Reserved, lineB.Available));
        Assert.Equal(ReservationOutcome.InvalidTransition, (await order.CommitAsync("checkout")).Outcome);
    }

    // Proves a placement resumed after an interruption does not count a hold its line has let go meanwhile: the order is refused and holds nothing anywhere.
    [Fact]
    public async Task A_resumed_placement_does_not_count_a_hold_its_line_let_go()
    {
        var a = await StockedAsync(5);
        var b = await StockedAsync(5);
        var id = Fresh.Id("order");
        var order = Host.Grains.GetGrain<IReservationGrain>(id);
        var request = new PlaceReservation([new(a.Sku, a.Warehouse, 2), new(b.Sku, b.Warehouse, 3)], 600, "checkout");

        // What an interrupted placement left: its request stored with no line's outcome recorded, and the first line's hold taken and since let go.
        var stored = await StoredOrders.WriteAsync(Host, id, request, ReservationStatus.Placing);
        Assert.Equal(StockLineOutcome.Reserved, (await a.Line.ReserveAsync(new ReserveCommand(id, 2, stored.ExpiresAt.AddSeconds(30), "checkout"))).Outcome);
        Assert.Equal(StockLineOutcome.Released, (await a.Line.ReleaseAsync(new HoldCommand(id, "checkout"))).Outcome);

        Assert.Equal(ReservationStatus.Refused, (await order.GetAsync()).Reservation!.Status);
        Assert.Equal(0, (await a.Line.GetAsync()).Reserved);
        Assert.Equal(0, (await b.Line.GetAsync()).Reserved);
        Assert.Equal(ReservationOutcome.InsufficientStock, (await order.PlaceAsync(request)).Outcome);
    }
    // Proves a malformed order from a trusted Orleans client is refused whole before anything is stored or held: two lines on one stock line, a quantity below one, no lines, a hold time out of range, a SKU both named and allocated, an id that is not canonical.
    [Fact]
    public async Task A_malformed_order_is_refused_and_stores_nothing()
    {
        var a = await StockedAsync(5);
        PlaceReservation[] malformed =
        [
            new([new(a.Sku, a.Warehouse, 1), new(a.Sku, a.Warehouse, 1)], 600, "checkout"),
            new([new(a.Sku, a.Warehouse, 0)], 600, "checkout"),
            new([], 600, "checkout"),
            new([new(a.Sku, a.Warehouse, 1)], -1, "checkout"),
            new([new(a.Sku, a.Warehouse, 1), new(a.Sku, null, 1)], 600, "checkout", "any-policy"),
            new([new(a.Sku + " ", a.Warehouse, 1)], 600, "checkout"),
        ];
        foreach (var request in malformed)
        {
            var order = Order();
            Assert.Equal(ReservationOutcome.InvalidRequest, (await order.PlaceAsync(request)).Outcome);
            Assert.Equal(ReservationOutcome.NotFound, (await order.GetAsync()).Outcome);
        }

        Assert.Equal(0, (await a.Line.GetAsync()).Reserved);
    }
    // Proves a refused order whose lines had not all let go when its call failed lets them go on the caller's retry, which gets the same refusal.
    [Fact]
    public async Task A_retried_refusal_lets_go_of_a_hold_its_first_call_left()
    {
        var a = await StockedAsync(5);
        var b = await StockedAsync(1);
        var id = Fresh.Id("order");
        var order = Host.Grains.GetGrain<IReservationGrain>(id);
        var request = new PlaceReservation([new(a.Sku, a.Warehouse, 2), new(b.Sku, b.Warehouse, 3)], 600, "checkout");

        // What a placement left when it failed after storing its refusal and before its first line let go.
        var stored = await StoredOrders.WriteAsync(Host, id, request, ReservationStatus.Refused,
        [
            new LineAttempt { Sku = a.Sku, Warehouse = a.Warehouse, Quantity = 2, Outcome = AttemptOutcome.Held },
            new LineAttempt { Sku = b.Sku, Warehouse = b.Warehouse, Quantity = 3, Outcome = AttemptOutcome.Refused, Available = 1 },
        ]);
        Assert.Equal(StockLineOutcome.Reserved, (await a.Line.ReserveAsync(new ReserveCommand(id, 2, stored.ExpiresAt.AddSeconds(30), "checkout"))).Outcome);

        Assert.Equal(ReservationOutcome.InsufficientStock, (await order.PlaceAsync(request)).Outcome);
        Assert.Equal(0, (await a.Line.GetAsync()).Reserved);
    }
}
