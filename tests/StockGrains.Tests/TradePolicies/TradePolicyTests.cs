using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using StockGrains.Grains.TradePolicies;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.TradePolicies;

/// <summary>Trade policies: availability across warehouses, allocation, and all-or-nothing orders over HTTP.</summary>
[Collection(nameof(ServerCollection))]
public sealed class TradePolicyTests(ServerFixture fixture)
{
    private HttpClient Http => fixture.Host.Http;

    private async Task<string> PolicyAsync(string allocation, params string[] warehouses)
    {
        var policy = Fresh.Id("tp");
        var (status, _) = await Http.PutJsonAsync($"/v1/trade-policies/{policy}", new { warehouses, allocation });
        Assert.Equal(200, status);
        return policy;
    }

    /// <summary>Waits, with a bound, until the read model shows what <paramref name="done"/> expects.</summary>
    private async Task<JsonElement> AvailabilityAsync(string sku, string policy, Func<JsonElement, bool> done)
    {
        JsonElement body = default;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            (_, body) = await Http.GetJsonAsync($"/v1/availability/{sku}?tradePolicy={policy}");
            if (done(body))
            {
                return body;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"The read model did not converge within 5 s: {body}");
        return body;
    }

    // Proves a warehouse below zero never hides the others: one at −5, another at +7, the policy offers 7 and an order for 7 succeeds.
    [Fact]
    public async Task A_warehouse_below_zero_does_not_hide_the_stock_of_another()
    {
        var sku = Fresh.Id("sku");
        string minus = Fresh.Id("w"), plus = Fresh.Id("w");
        await Http.PostJsonAsync($"/v1/stock/{minus}/{sku}/receipts", new { quantity = 5 });
        await Http.PostJsonAsync("/v1/reservations", new { reservationId = Fresh.Id("o"), lines = new[] { new { sku, warehouse = minus, quantity = 5 } } });
        var (counted, _) = await Http.PostJsonAsync($"/v1/stock/{minus}/{sku}/counts", new { countedQuantity = 0 });
        Assert.Equal(200, counted);
        await Http.PostJsonAsync($"/v1/stock/{plus}/{sku}/receipts", new { quantity = 7 });
        var policy = await PolicyAsync("priority", minus, plus);

        var availability = await AvailabilityAsync(sku, policy, b => b.Long("available") == 7);
        var first = availability.GetProperty("warehouses")[0];
        Assert.Equal((-5L, 0L, "blocked_by_alert"), (first.Long("available"), first.Long("contributes"), first.Str("why")));

        var (status, order) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId = Fresh.Id("o"), tradePolicy = policy, lines = new[] { new { sku, quantity = 7 } } });
        Assert.Equal(201, status);
        var line = Assert.Single(order.GetProperty("lines").EnumerateArray());
        Assert.Equal((plus, 7L), (line.Str("warehouse"), line.Long("quantity")));
    }

    // Proves the read model keeps SKUs apart when many share shards and messages: 150 SKUs, each with its own quantity, each shows its own.
    [Fact]
    public async Task Many_skus_that_share_shards_each_show_their_own_availability()
    {
        var warehouse = Fresh.Id("w");
        var skus = Enumerable.Range(1, 150).Select(i => (Sku: Fresh.Id("sku"), Quantity: (long)i)).ToArray();
        Assert.True(skus.Select(s => StockGrains.TradePolicies.Availability.ShardOf(s.Sku)).Distinct().Count() > 20, "the SKUs spread over many shards");
        await Task.WhenAll(skus.Select(s => Http.PostJsonAsync($"/v1/stock/{warehouse}/{s.Sku}/receipts", new { quantity = s.Quantity })));
        var policy = await PolicyAsync("priority", warehouse);

        foreach (var (sku, quantity) in skus)
        {
            var body = await AvailabilityAsync(sku, policy, b => b.Long("available") == quantity);
            Assert.Equal(quantity, Assert.Single(body.GetProperty("warehouses").EnumerateArray()).Long("onHand"));
        }
    }

    // Proves 50 concurrent orders for 1 unit over two warehouses of 1 unit each: exactly 2 succeed and no line goes below zero.
    [Fact]
    public async Task Fifty_orders_for_one_unit_over_two_single_units_win_exactly_twice()
    {
        var (sku, a, b, policy) = await TwoSingleUnitsAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Http.PostJsonAsync("/v1/reservations",
            new { reservationId = Fresh.Id("o"), tradePolicy = policy, lines = new[] { new { sku, quantity = 1 } } })));
        Assert.Equal(2, results.Count(r => r.Status == 201));
        Assert.Equal(48, results.Count(r => r.Status == 409 && r.Body.Str("code") == "insufficient_stock"));
        await AssertNeverBelowZeroAsync(sku, a, b);
    }

    // Proves 50 concurrent orders for 2 units over two warehouses of 1 unit each: exactly 1 succeeds, split across both.
    [Fact]
    public async Task Fifty_orders_for_two_units_over_two_single_units_win_exactly_once_split_across_both()
    {
        var (sku, a, b, policy) = await TwoSingleUnitsAsync();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Http.PostJsonAsync("/v1/reservations",
            new { reservationId = Fresh.Id("o"), tradePolicy = policy, lines = new[] { new { sku, quantity = 2 } } })));
        var won = Assert.Single(results, r => r.Status == 201);
        var lines = won.Body.GetProperty("lines").EnumerateArray().Select(l => (l.Str("warehouse")!, l.Long("quantity"))).OrderBy(l => l.Item1).ToList();
        Assert.Equal(new[] { (a, 1L), (b, 1L) }.OrderBy(l => l.Item1).ToList(), lines);
        await AssertNeverBelowZeroAsync(sku, a, b);
    }

    // Proves an order whose planned first warehouse was emptied behind the read model's back is covered elsewhere, holding exactly what it asked for.
    [Fact]
    public async Task An_order_planned_on_a_stale_read_model_is_covered_elsewhere_and_holds_exactly_its_quantity()
    {
        var sku = Fresh.Id("sku");
        string a = Fresh.Id("w"), b = Fresh.Id("w"), c = Fresh.Id("w");
        await Http.PostJsonAsync($"/v1/stock/{a}/{sku}/receipts", new { quantity = 2 });
        await Http.PostJsonAsync($"/v1/stock/{b}/{sku}/receipts", new { quantity = 1 });
        await Http.PostJsonAsync($"/v1/stock/{c}/{sku}/receipts", new { quantity = 5 });
        var policy = await PolicyAsync("priority", a, b, c);
        await AvailabilityAsync(sku, policy, body => body.Long("available") == 8);

        // Two holds empty the first warehouse in quick succession. Lines' balances reach it every 50 ms, so the
        // read model often still offers a unit there when the order is planned, and the planned hold is refused.
        foreach (var _ in Enumerable.Range(0, 2))
        {
            var (held, _) = await Http.PostJsonAsync("/v1/reservations",
                new { reservationId = Fresh.Id("o"), lines = new[] { new { sku, warehouse = a, quantity = 1 } } });
            Assert.Equal(201, held);
        }

        var (status, order) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId = Fresh.Id("o"), tradePolicy = policy, lines = new[] { new { sku, quantity = 2 } } });

        Assert.Equal(201, status);
        Assert.Equal(2, order.GetProperty("lines").EnumerateArray().Sum(l => l.Long("quantity")));
        var reserved = 0L;
        foreach (var w in new[] { b, c })
        {
            reserved += (await Http.GetJsonAsync($"/v1/stock/{w}/{sku}")).Body.Long("reserved");
        }

        Assert.Equal(2, reserved);
    }

    // Proves an allocated order that cannot complete holds nothing, and a replay of its id returns the same refusal.
    [Fact]
    public async Task A_policy_order_that_cannot_complete_holds_nothing_and_replays_its_refusal()
    {
        var (sku, a, b, policy) = await TwoSingleUnitsAsync();
        var other = Fresh.Id("sku");
        await Http.PostJsonAsync($"/v1/stock/{a}/{other}/receipts", new { quantity = 5 });
        var id = Fresh.Id("o");
        var body = new { reservationId = id, tradePolicy = policy, lines = new object[] { new { sku = other, warehouse = a, quantity = 2 }, new { sku, quantity = 3 } } };
        var (status, refusal) = await Http.PostJsonAsync("/v1/reservations", body);
        Assert.Equal(409, status);
        var shortLine = Assert.Single(refusal.GetProperty("shortLines").EnumerateArray());
        Assert.Equal(sku, shortLine.Str("sku"));
        Assert.Equal(0, (await Http.GetJsonAsync($"/v1/stock/{a}/{other}")).Body.Long("reserved"));
        Assert.Equal(0, (await Http.GetJsonAsync($"/v1/stock/{a}/{sku}")).Body.Long("reserved"));
        Assert.Equal(0, (await Http.GetJsonAsync($"/v1/stock/{b}/{sku}")).Body.Long("reserved"));
        var (again, replay) = await Http.PostJsonAsync("/v1/reservations", body);
        Assert.Equal(409, again);
        Assert.Equal("insufficient_stock", replay.Str("code"));
    }

    // Proves the read model converges after a burst of 1,000 changes across three warehouses (a bounded wait on the condition, not a sleep).
    [Fact]
    public async Task The_read_model_converges_after_a_burst_of_a_thousand_changes()
    {
        var sku = Fresh.Id("sku");
        var warehouses = new[] { Fresh.Id("w"), Fresh.Id("w"), Fresh.Id("w") };
        var policy = await PolicyAsync("most-available", warehouses);
        var lines = warehouses.Select(w => fixture.Host.Grains.GetGrain<StockGrains.Stock.IStockLineGrain>($"{w}/{sku}")).ToArray();
        await Task.WhenAll(Enumerable.Range(0, 1_000).Select(i =>
            lines[i % 3].ReceiveAsync(new StockGrains.Stock.ReceiveCommand($"burst-{i}", 1 + i % 2, "op"))));

        var expected = 0L;
        foreach (var line in lines)
        {
            expected += (await line.GetAsync()).Available;
        }

        var body = await AvailabilityAsync(sku, policy, b => b.Long("available") == expected);
        Assert.Equal(expected, body.GetProperty("warehouses").EnumerateArray().Sum(w => w.Long("onHand")));
    }

    // Proves an unknown trade policy is a validation error that stores nothing, and availability of an unknown policy is 404.
    [Fact]
    public async Task An_unknown_trade_policy_is_refused()
    {
        var id = Fresh.Id("o");
        var (status, problem) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId = id, tradePolicy = Fresh.Id("nope"), lines = new[] { new { sku = "x", quantity = 1 } } });
        Assert.Equal(400, status);
        Assert.Equal("validation_failed", problem.Str("code"));
        Assert.Equal(404, (await Http.GetJsonAsync($"/v1/reservations/{id}")).Status);
        Assert.Equal(404, (await Http.GetJsonAsync($"/v1/availability/x?tradePolicy={Fresh.Id("nope")}")).Status);
    }

    private Task<(string Sku, string A, string B, string Policy)> TwoSingleUnitsAsync() => TwoWarehousesAsync(1, 1);

    /// <summary>A fresh SKU in two fresh warehouses under a priority policy, once the read model shows both.</summary>
    private async Task<(string Sku, string A, string B, string Policy)> TwoWarehousesAsync(long inA, long inB)
    {
        var sku = Fresh.Id("sku");
        string a = Fresh.Id("w"), b = Fresh.Id("w");
        await Http.PostJsonAsync($"/v1/stock/{a}/{sku}/receipts", new { quantity = inA });
        await Http.PostJsonAsync($"/v1/stock/{b}/{sku}/receipts", new { quantity = inB });
        var policy = await PolicyAsync("priority", a, b);
        await AvailabilityAsync(sku, policy, body => body.Long("available") == inA + inB);
        return (sku, a, b, policy);
    }

    private async Task AssertNeverBelowZeroAsync(string sku, params string[] warehouses)
    {
        foreach (var w in warehouses)
        {
            var (_, line) = await Http.GetJsonAsync($"/v1/stock/{w}/{sku}");
            Assert.True(line.Long("available") >= 0, $"{w}/{sku} is below zero: {line}");
            var (_, ledger) = await Http.GetJsonAsync($"/v1/stock/{w}/{sku}/ledger?limit=1000");
            Assert.All(ledger.GetProperty("entries").EnumerateArray(), e => Assert.True(e.Long("onHandAfter") - e.Long("reservedAfter") >= 0));
        }
    }

    // Proves a change whose push was lost (made durable by a silo that stopped before its next send) still reaches the
    // read model: a SKU read more than a minute after its last rebuild is read from the store again, and until then
    // the read is answered from memory.
    [Fact]
    public async Task A_change_whose_push_was_lost_reaches_the_read_model_a_minute_after_the_last_rebuild()
    {
        var sku = Fresh.Id("sku");
        string seen = Fresh.Id("w"), lost = Fresh.Id("w");
        var policy = await PolicyAsync("priority", seen, lost);
        await Http.PostJsonAsync($"/v1/stock/{seen}/{sku}/receipts", new { quantity = 5 });
        await AvailabilityAsync(sku, policy, b => b.Long("available") == 5);

        // The other warehouse's receipt is durable, but no line is active to push it: only the store knows.
        await fixture.Host.Store.AppendAsync(StockKey.Create(lost, sku).ToString(), 0,
            [new LedgerEntry(1, LedgerEntryKind.Received, 7, null, null, Fresh.Id("op"), "op", null, fixture.Host.Clock.GetUtcNow(), 7, 0, 0, 0,
                NegativeStockPolicy.Block, null, "receive|7|")]);
        var (_, before) = await Http.GetJsonAsync($"/v1/availability/{sku}?tradePolicy={policy}");
        Assert.Equal(5, before.Long("available"));

        fixture.Host.Clock.Advance(AvailabilityShardGrain.RefreshAfter);
        var after = await AvailabilityAsync(sku, policy, b => b.Long("available") == 12);
        Assert.Equal(12, after.Long("available"));
    }

    // Proves availability reads take the policy from this silo's cache: many reads within a second read its grain once, and the next second reads it again.
    [Fact]
    public async Task Availability_reads_within_a_second_read_the_trade_policy_once()
    {
        var cache = fixture.Host.App.Services.GetRequiredService<StockGrains.Server.TradePolicies.TradePolicyCache>();
        var sku = Fresh.Id("sku");
        var policy = await PolicyAsync("priority", Fresh.Id("w"));
        var before = cache.Reads;
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(200, (await Http.GetJsonAsync($"/v1/availability/{sku}?tradePolicy={policy}")).Status);
        }

        Assert.Equal(before + 1, cache.Reads);
        fixture.Host.Clock.Advance(StockGrains.Server.TradePolicies.TradePolicyCache.Lifetime);
        Assert.Equal(200, (await Http.GetJsonAsync($"/v1/availability/{sku}?tradePolicy={policy}")).Status);
        Assert.Equal(before + 2, cache.Reads);
    }

    // Proves the cache's staleness is bounded: a policy redefined behind the silo's back shows within its lifetime, and one redefined through this silo's API shows at once.
    [Fact]
    public async Task A_redefined_policy_shows_in_availability_at_once_here_and_within_a_second_from_elsewhere()
    {
        var (sku, north, south, policy) = await TwoWarehousesAsync(2, 3);

        // As another silo would: straight to the policy's grain, which this silo's cache does not hear of.
        await fixture.Host.Grains.GetGrain<StockGrains.TradePolicies.ITradePolicyGrain>(policy)
            .DefineAsync([north], StockGrains.TradePolicies.AllocationStrategy.Priority);
        var (_, stale) = await Http.GetJsonAsync($"/v1/availability/{sku}?tradePolicy={policy}");
        Assert.Equal(5, stale.Long("available"));
        fixture.Host.Clock.Advance(StockGrains.Server.TradePolicies.TradePolicyCache.Lifetime);
        var (_, fresh) = await Http.GetJsonAsync($"/v1/availability/{sku}?tradePolicy={policy}");
        Assert.Equal(2, fresh.Long("available"));

        // Through this silo's API the next read sees it, with no time passing.
        Assert.Equal(200, (await Http.PutJsonAsync($"/v1/trade-policies/{policy}", new { warehouses = new[] { south }, allocation = "priority" })).Status);
        var (_, redefined) = await Http.GetJsonAsync($"/v1/availability/{sku}?tradePolicy={policy}");
        Assert.Equal(3, redefined.Long("available"));
    }
    // Proves a trade policy's grain refuses a malformed definition from a trusted Orleans client, a warehouse named twice among them, and keeps the definition it had.
    [Fact]
    public async Task A_policy_naming_a_warehouse_twice_is_refused_and_the_stored_one_stays()
    {
        var policy = fixture.Host.Grains.GetGrain<StockGrains.TradePolicies.ITradePolicyGrain>(Fresh.Id("tp"));
        var stored = await policy.DefineAsync(["w1", "w2"], StockGrains.TradePolicies.AllocationStrategy.Priority);
        string[][] malformed = [["w1", "w1"], [], ["w 1"], [.. Enumerable.Range(0, TradePolicyGrain.MaxWarehouses + 1).Select(i => $"w{i}")]];
        foreach (var warehouses in malformed)
        {
            await Assert.ThrowsAsync<ArgumentException>(() => policy.DefineAsync(warehouses, StockGrains.TradePolicies.AllocationStrategy.Priority));
        }

        var kept = await policy.GetAsync();
        Assert.Equal((stored.Version, stored.Allocation), (kept!.Version, kept.Allocation));
        Assert.Equal(["w1", "w2"], kept.Warehouses);
    }
}
