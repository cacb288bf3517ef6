using StockGrains.Reservations;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Stock;

[Collection(nameof(ServerCollection))]
public sealed class StockLineGrainTests(ServerFixture fixture)
{
    private ServerHost Host => fixture.Host;

    private IStockLineGrain NewLine() => Host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(Fresh.Id("w"), Fresh.Id("mug")).ToString());

    private ReserveCommand Reserve(string id, long quantity, int ttlSeconds = 600) =>
        new(id, quantity, Host.Clock.GetUtcNow().AddSeconds(ttlSeconds), "checkout");

    // Proves the two-mugs race on a real cluster: 3 on hand, 100 concurrent reservations of 1, exactly 3 win.
    [Fact]
    public async Task Exactly_three_of_a_hundred_concurrent_reservations_win_three_mugs()
    {
        var line = NewLine();
        await line.ReceiveAsync(new ReceiveCommand("in", 3, "op"));
        var results = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => line.ReserveAsync(Reserve($"r{i}", 1))));
        Assert.Equal(3, results.Count(r => r.Outcome == StockLineOutcome.Reserved));
        Assert.Equal(97, results.Count(r => r.Outcome == StockLineOutcome.InsufficientStock));
        var view = await line.GetAsync();
        Assert.Equal((3L, 3L, 0L), (view.OnHand, view.Reserved, view.Available));
    }

    // Proves no oversell at scale and group commit: 2,000 racing for 1,000 gives exactly 1,000, in far fewer appends than entries.
    [Fact]
    public async Task Two_thousand_reservations_for_a_thousand_units_win_exactly_a_thousand_in_few_appends()
    {
        var line = NewLine();
        await line.ReceiveAsync(new ReceiveCommand("in", 1_000, "op"));
        var appendsBefore = Host.Store.Counters.Appends;
        var entriesBefore = Host.Store.Counters.Entries;
        var results = await Task.WhenAll(Enumerable.Range(0, 2_000).Select(i => line.ReserveAsync(Reserve($"r{i}", 1))));
        var appends = Host.Store.Counters.Appends - appendsBefore;
        var entries = Host.Store.Counters.Entries - entriesBefore;

        Assert.Equal(1_000, results.Count(r => r.Outcome == StockLineOutcome.Reserved));
        Assert.Equal(0, (await line.GetAsync()).Available);
        Assert.True(entries >= 2_000, $"every decision is an entry, got {entries}");
        Assert.True(appends * 10 <= entries, $"group commit: {appends} appends carried {entries} entries");
    }

    // Proves a line that has forgotten old holds answers their retries from the ledger without a second effect, and looks up every new id of a crowd.
    [Fact]
    public async Task A_line_that_forgot_old_holds_answers_their_retries_from_the_ledger_and_looks_up_new_ids()
    {
        await using var host = await ServerHost.StartAsync(null, null, "--StockGrains:StockLine:RememberLimit=4");
        var line = host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(Fresh.Id("w"), Fresh.Id("mug")).ToString());
        var expires = host.Clock.GetUtcNow().AddMinutes(10);
        await line.ReceiveAsync(new ReceiveCommand("in", 1_000, "op"));
        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(StockLineOutcome.Reserved, (await line.ReserveAsync(new ReserveCommand($"old{i}", 1, expires, "checkout"))).Outcome);
            await line.CommitAsync(new HoldCommand($"old{i}", "checkout"));
            Assert.Equal(StockLineOutcome.Shipped, (await line.ShipAsync(new HoldCommand($"old{i}", "checkout"))).Outcome);
        }

        var retried = await line.ReserveAsync(new ReserveCommand("old0", 1, expires, "checkout"));
        Assert.Equal((StockLineOutcome.AlreadyReserved, true), (retried.Outcome, retried.Replayed));
        Assert.Equal(StockLineOutcome.AlreadyShipped, (await line.ShipAsync(new HoldCommand("old1", "checkout"))).Outcome);

        var lookups = host.Store.Counters.Lookups;
        var crowd = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => line.ReserveAsync(new ReserveCommand($"new{i}", 1, expires, "checkout"))));
        Assert.All(crowd, r => Assert.Equal(StockLineOutcome.Reserved, r.Outcome));
        Assert.Equal(200, host.Store.Counters.Lookups - lookups);
        var view = await line.GetAsync();
        Assert.Equal((992L, 200L), (view.OnHand, view.Reserved));
    }

    // Proves a hold past its time cannot be committed, even when more holds fell due at once than the line expires in one turn: the hold a command names is expired first.
    [Fact]
    public async Task A_hold_past_its_time_is_not_committed_when_more_fell_due_than_a_turn_expires()
    {
        await using var host = await ServerHost.StartAsync(null, null, "--StockGrains:StockLine:MaxExpiriesPerTurn=1");
        var line = host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(Fresh.Id("w"), Fresh.Id("mug")).ToString());
        var start = host.Clock.GetUtcNow();
        await line.ReceiveAsync(new ReceiveCommand("in", 10, "op"));
        await line.ReserveAsync(new ReserveCommand("first", 1, start.AddSeconds(60), "checkout"));
        await line.ReserveAsync(new ReserveCommand("second", 1, start.AddSeconds(61), "checkout"));
        await line.ReserveAsync(new ReserveCommand("third", 1, start.AddSeconds(62), "checkout"));

        host.Clock.Advance(TimeSpan.FromSeconds(63));
        Assert.Equal(StockLineOutcome.InvalidTransition, (await line.CommitAsync(new HoldCommand("third", "checkout"))).Outcome);
        Assert.Equal(StockLineOutcome.AlreadyExpired, (await line.ReleaseAsync(new HoldCommand("second", "checkout"))).Outcome);
        Assert.Equal(HoldStatus.Expired, (await line.GetHoldAsync("third"))!.Status);
        Assert.Equal(0, (await line.GetAsync()).Reserved);
    }

    // Proves a reservation is not refused for units held only by holds past their time, however many more fell due than the line expires in one turn.
    [Fact]
    public async Task A_reservation_is_not_refused_for_units_whose_holds_are_past_their_time()
    {
        await using var host = await ServerHost.StartAsync(null, null, "--StockGrains:StockLine:MaxExpiriesPerTurn=1");
        var line = host.Grains.GetGrain<IStockLineGrain>(StockKey.Create(Fresh.Id("w"), Fresh.Id("mug")).ToString());
        var start = host.Clock.GetUtcNow();
        await line.ReceiveAsync(new ReceiveCommand("in", 3, "op"));
        for (var i = 0; i < 3; i++)
        {
            await line.ReserveAsync(new ReserveCommand($"old{i}", 1, start.AddSeconds(60 + i), "checkout"));
        }

        host.Clock.Advance(TimeSpan.FromSeconds(63));
        Assert.Equal(StockLineOutcome.Reserved, (await line.ReserveAsync(new ReserveCommand("new", 3, start.AddSeconds(600), "checkout"))).Outcome);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HoldStatus.Expired, (await line.GetHoldAsync($"old{i}"))!.Status);
        }

        var view = await line.GetAsync();
        Assert.Equal((3L, 3L), (view.OnHand, view.Reserved));
    }

    // Proves a retried reservation is answered from the ledger without a second hold, and a changed quantity is refused.
    [Fact]
    public async Task A_retried_reservation_holds_once_and_a_different_quantity_is_a_conflict()
    {
        var line = NewLine();
        await line.ReceiveAsync(new ReceiveCommand("in", 5, "op"));
        var first = await line.ReserveAsync(Reserve("r", 2));
        var retries = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => line.ReserveAsync(Reserve("r", 2))));
        Assert.Equal(StockLineOutcome.Reserved, first.Outcome);
        Assert.All(retries, r => Assert.Equal(StockLineOutcome.AlreadyReserved, r.Outcome));
        Assert.Equal(StockLineOutcome.ReservedWithDifferentQuantity, (await line.ReserveAsync(Reserve("r", 3))).Outcome);
        Assert.Equal(2, (await line.GetAsync()).Reserved);
    }

    // Proves commit, ship and release through the grain, and that the ledger replays to the live balances.
    [Fact]
    public async Task The_ledger_of_a_busy_line_replays_to_its_balances()
    {
        var line = NewLine();
        await line.ReceiveAsync(new ReceiveCommand("in", 10, "op"));
        await line.ReserveAsync(Reserve("a", 3));
        await line.ReserveAsync(Reserve("b", 2));
        Assert.Equal(StockLineOutcome.Committed, (await line.CommitAsync(new HoldCommand("a", "x"))).Outcome);
        Assert.Equal(StockLineOutcome.Shipped, (await line.ShipAsync(new HoldCommand("a", "x"))).Outcome);
        Assert.Equal(StockLineOutcome.Released, (await line.ReleaseAsync(new HoldCommand("b", "x"))).Outcome);
        Assert.Equal(StockLineOutcome.HoldNotFound, (await line.CommitAsync(new HoldCommand("nope", "x"))).Outcome);

        var view = await line.GetAsync();
        var ledger = (await line.GetLedgerAsync(0, 1_000)).Entries;
        var replay = new StockGrains.Grains.Stock.StockLineRules(StockKey.Parse(line.GetPrimaryKeyString()));
        foreach (var entry in ledger)
        {
            replay.Apply(entry);
        }

        Assert.Equal(view, replay.View);
        Assert.Equal((7L, 0L, 0L), (view.OnHand, view.Reserved, view.Committed));
        Assert.Equal(
            [LedgerEntryKind.Received, LedgerEntryKind.Reserved, LedgerEntryKind.Reserved, LedgerEntryKind.Committed, LedgerEntryKind.Shipped, LedgerEntryKind.Released],
            ledger.Select(e => e.Kind));
    }

    // Proves the check on every call: once business time passes a hold's expiry, the next read shows it expired.
    [Fact]
    public async Task A_hold_expires_at_its_stored_time_on_the_next_call()
    {
        var line = NewLine();
        await line.ReceiveAsync(new ReceiveCommand("in", 4, "op"));
        await line.ReserveAsync(Reserve("short", 1, ttlSeconds: 30));
        await line.ReserveAsync(Reserve("long", 1, ttlSeconds: 3_000));
        Assert.Equal(2, (await line.GetAsync()).Reserved);

        Host.Clock.Advance(TimeSpan.FromSeconds(31));
        var view = await line.GetAsync();
        Assert.Equal(1, view.Reserved);
        Assert.Equal(HoldStatus.Expired, (await line.GetHoldAsync("short"))!.Status);
        Assert.Equal(HoldStatus.Pending, (await line.GetHoldAsync("long"))!.Status);
        Assert.Equal(StockLineOutcome.InvalidTransition, (await line.CommitAsync(new HoldCommand("short", "x"))).Outcome);
    }

    // Proves a deactivated line still expires its holds: its expiry is stored with its entries, and the sweeper wakes it.
    [Fact]
    public async Task A_deactivated_line_expires_its_holds_when_the_sweeper_wakes_it()
    {
        var line = NewLine();
        var key = line.GetPrimaryKeyString();
        await line.ReceiveAsync(new ReceiveCommand("in", 2, "op"));
        await line.ReserveAsync(Reserve("h", 2, ttlSeconds: 60));
        Assert.Equal(Host.Clock.GetUtcNow().AddSeconds(60).UtcTicks, await StoredExpiryAsync(key));

        await line.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        Assert.DoesNotContain(key, await Host.Store.DueLinesAsync(Host.Clock.GetUtcNow(), 1000));
        Host.Clock.Advance(TimeSpan.FromSeconds(61));
        Assert.Contains(key, await Host.Store.DueLinesAsync(Host.Clock.GetUtcNow(), 1000));

        // What the sweeper's reminder tick calls; the fresh activation works only from what it loads.
        Assert.True(await Host.Grains.GetGrain<StockGrains.Grains.Stock.IExpirySweeperGrain>(0).SweepAsync() >= 1);
        var entries = await Host.Store.ReadAsync(key, 0, 100);
        Assert.Equal(LedgerEntryKind.Expired, entries[^1].Kind);
        Assert.Equal(0, (await line.GetAsync()).Reserved);
        Assert.Null(await StoredExpiryAsync(key));
        Assert.DoesNotContain(key, await Host.Store.DueLinesAsync(Host.Clock.GetUtcNow(), 1000));
    }

    // Proves the stored expiry moves earlier at once but later only a minute at a time, and a line the sweeper wakes early stores its real expiry.
    [Fact]
    public async Task The_stored_expiry_moves_earlier_at_once_and_later_only_when_it_is_a_minute_behind()
    {
        var line = NewLine();
        var key = line.GetPrimaryKeyString();
        var start = Host.Clock.GetUtcNow();
        await line.ReceiveAsync(new ReceiveCommand("in", 10, "op"));
        await line.ReserveAsync(Reserve("a", 1, ttlSeconds: 600));
        await line.ReserveAsync(Reserve("b", 1, ttlSeconds: 620));
        Assert.Equal(start.AddSeconds(600).UtcTicks, await StoredExpiryAsync(key));

        // The earliest hold moves 20 seconds later: within the slack, the store is not told.
        await line.CommitAsync(new HoldCommand("a", "x"));
        Assert.Equal(start.AddSeconds(600).UtcTicks, await StoredExpiryAsync(key));

        // An earlier hold is stored at once, and once it is committed the real expiry is far enough ahead to be stored.
        await line.ReserveAsync(Reserve("c", 1, ttlSeconds: 300));
        Assert.Equal(start.AddSeconds(300).UtcTicks, await StoredExpiryAsync(key));
        await line.CommitAsync(new HoldCommand("c", "x"));
        Assert.Equal(start.AddSeconds(620).UtcTicks, await StoredExpiryAsync(key));

        // Within the slack again; then the line is woken early, finds nothing due, and stores its real expiry.
        await line.ReserveAsync(Reserve("d", 1, ttlSeconds: 640));
        await line.CommitAsync(new HoldCommand("b", "x"));
        Assert.Equal(start.AddSeconds(620).UtcTicks, await StoredExpiryAsync(key));
        await line.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        Host.Clock.Advance(TimeSpan.FromSeconds(625));
        Assert.Contains(key, await Host.Store.DueLinesAsync(Host.Clock.GetUtcNow(), 1000));
        await Host.Grains.GetGrain<StockGrains.Grains.Stock.IExpirySweeperGrain>(0).SweepAsync();
        Assert.Equal(start.AddSeconds(640).UtcTicks, await StoredExpiryAsync(key));
        Assert.DoesNotContain(key, await Host.Store.DueLinesAsync(Host.Clock.GetUtcNow(), 1000));
        Assert.Equal(HoldStatus.Pending, (await line.GetHoldAsync("d"))!.Status);
    }

    // Proves a line whose last pending hold was committed within the slack, and that left memory, is let go by the expiry index when the sweeper wakes it: it is not woken again and again for good.
    [Fact]
    public async Task A_line_woken_for_a_stored_expiry_it_no_longer_has_clears_it()
    {
        var line = NewLine();
        var key = line.GetPrimaryKeyString();
        await line.ReceiveAsync(new ReceiveCommand("in", 10, "op"));
        await line.ReserveAsync(Reserve("a", 1, ttlSeconds: 600));
        await line.CommitAsync(new HoldCommand("a", "x"));
        Assert.NotNull(await StoredExpiryAsync(key));

        await line.Cast<Orleans.Core.Internal.IGrainManagementExtension>().DeactivateOnIdle();
        Host.Clock.Advance(TimeSpan.FromSeconds(601));
        Assert.Contains(key, await Host.Store.DueLinesAsync(Host.Clock.GetUtcNow(), 1000));
        await Host.Grains.GetGrain<StockGrains.Grains.Stock.IExpirySweeperGrain>(0).SweepAsync();
        Assert.Null(await StoredExpiryAsync(key));
        Assert.DoesNotContain(key, await Host.Store.DueLinesAsync(Host.Clock.GetUtcNow(), 1000));
        Assert.Equal(HoldStatus.Committed, (await line.GetHoldAsync("a"))!.Status);
    }

    // Proves the timer while active: with no call at all, an active line expires a due hold by itself.
    [Fact]
    public async Task An_active_line_expires_a_due_hold_without_being_called()
    {
        var line = NewLine();
        await line.ReceiveAsync(new ReceiveCommand("in", 1, "op"));
        await line.ReserveAsync(Reserve("h", 1, ttlSeconds: 1));
        Host.Clock.Advance(TimeSpan.FromSeconds(2));

        // Read the store directly: a call to the grain would expire the hold through the check on every call instead.
        var expired = false;
        for (var attempt = 0; attempt < 100 && !expired; attempt++)
        {
            await Task.Delay(100);
            var entries = await Host.Store.ReadAsync(line.GetPrimaryKeyString(), 0, 100);
            expired = entries.Any(e => e.Kind == LedgerEntryKind.Expired);
        }

        Assert.True(expired, "the line's timer should have expired the hold within about a second");
    }

    private async Task<long?> StoredExpiryAsync(string line)
    {
        await using var connection = await Host.Database.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT next_expiry FROM stock_lines WHERE line = $line";
        command.Parameters.AddWithValue("$line", line);
        return await command.ExecuteScalarAsync() is long ticks ? ticks : null;
    }

    // Proves a reference made from the cached types names the same grain and interface as Orleans' own, and reaches that grain.
    [Fact]
    public async Task A_cached_reference_is_the_grain_orleans_names_and_reaches_it()
    {
        var grains = Host.Grains;
        var key = StockKey.Create(Fresh.Id("w"), Fresh.Id("mug")).ToString();
        var usual = grains.GetGrain<IStockLineGrain>(key);
        var cached = grains.Reference<IStockLineGrain>(key);
        Assert.Equal(usual, cached);
        Assert.Equal(((GrainReference)usual).InterfaceType, ((GrainReference)cached).InterfaceType);

        await usual.ReceiveAsync(new ReceiveCommand("in", 7, "op"));
        Assert.Equal(7, (await cached.GetAsync()).OnHand);

        // Each interface keeps its own types: an order's reference is not a line's.
        var order = grains.Reference<IReservationGrain>(Fresh.Id("order"));
        Assert.Equal(grains.GetGrain<IReservationGrain>(order.GetPrimaryKeyString()).GetGrainId(), order.GetGrainId());
        Assert.NotEqual(usual.GetGrainId().Type, order.GetGrainId().Type);
    }
}
