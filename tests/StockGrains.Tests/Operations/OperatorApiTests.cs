using Microsoft.Data.Sqlite;
using StockGrains.Server.Http;
using StockGrains.Stock;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Operations;

/// <summary>Operator truth through HTTP: adjustments, approvals, counts while selling, packs, transfers, alerts.</summary>
[Collection(nameof(ServerCollection))]
public sealed class OperatorApiTests(ServerFixture fixture)
{
    private HttpClient Http => fixture.Host.Http;

    private static string NewLine() => $"/v1/stock/{Fresh.Id("w")}/{Fresh.Id("sku")}";

    private async Task<string> StockedAsync(long quantity, string? line = null)
    {
        line ??= NewLine();
        var (status, _) = await Http.PostJsonAsync($"{line}/receipts", new { quantity });
        Assert.Equal(200, status);
        return line;
    }

    private async Task HoldAsync(string line, string reservationId, long quantity)
    {
        var parts = line.Split('/');
        var (status, _) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId, lines = new[] { new { sku = parts[4], warehouse = parts[3], quantity } } });
        Assert.Equal(201, status);
    }

    // Proves a write-off attempt on reserved units is refused with units_reserved and changes nothing.
    [Fact]
    public async Task A_write_off_of_reserved_units_is_refused()
    {
        var line = await StockedAsync(5);
        await HoldAsync(line, Fresh.Id("o"), 4);
        var (status, body) = await Http.PostJsonAsync($"{line}/adjustments", new { quantityDelta = -2, reason = "damaged" });
        Assert.Equal(409, status);
        Assert.Equal("units_reserved", body.Str("code"));
        var (_, after) = await Http.GetJsonAsync(line);
        Assert.Equal(5, after.Long("onHand"));

        var (ok, adjusted) = await Http.PostJsonAsync($"{line}/adjustments", new { quantityDelta = -1, reason = "damaged", note = "dropped" });
        Assert.Equal(200, ok);
        Assert.Equal(4, adjusted.Long("onHand"));
    }

    // Proves an adjustment whose quantity is out of range at either end, the most negative number JSON can carry included, is refused as invalid input and changes nothing.
    [Fact]
    public async Task An_adjustment_out_of_range_at_either_end_is_refused_as_invalid()
    {
        var line = await StockedAsync(5);
        foreach (var delta in new[] { long.MinValue, -Validate.MaxQuantity - 1, Validate.MaxQuantity + 1, long.MaxValue })
        {
            var (status, body) = await Http.PostJsonAsync($"{line}/adjustments", new { quantityDelta = delta, reason = "correction" });
            Assert.Equal((400, "validation_failed"), (status, body.Str("code")));
        }

        Assert.Equal(5, (await Http.GetJsonAsync(line)).Body.Long("onHand"));
    }

    // Proves four eyes through HTTP: under approval the write-off waits (202), the requester cannot approve (403 same_actor), another person can, a rejection after that is a conflict, and every step is in the ledger.
    [Fact]
    public async Task An_approval_needs_a_second_person_and_every_step_is_in_the_ledger()
    {
        var line = await StockedAsync(5);
        Assert.Equal(200, (await Http.PutJsonAsync($"{line}/policy", new { negativeStock = "approval", safetyStock = 0 })).Status);
        await HoldAsync(line, Fresh.Id("o"), 5);
        var (status, pending) = await Http.PostJsonAsync($"{line}/adjustments", new { quantityDelta = -2, reason = "shrinkage" }, actor: "clerk");
        Assert.Equal(202, status);
        var approvalId = pending.GetProperty("approval").Str("approvalId")!;

        var (listed, approvals) = await Http.GetJsonAsync("/v1/approvals?limit=1000");
        Assert.Equal(200, listed);
        Assert.Contains(approvals.GetProperty("approvals").EnumerateArray(), a => a.Str("approvalId") == approvalId);

        var (self, refusal) = await Http.PostJsonAsync($"{line}/approvals/{approvalId}/approve", actor: "clerk");
        Assert.Equal(403, self);
        Assert.Equal("same_actor", refusal.Str("code"));

        var (approved, result) = await Http.PostJsonAsync($"{line}/approvals/{approvalId}/approve", actor: "supervisor");
        Assert.Equal(200, approved);
        Assert.Equal(3, result.GetProperty("line").Long("onHand"));

        // The same decision again is answered as made; the other one, now, is a conflict that changes nothing.
        Assert.Equal(200, (await Http.PostJsonAsync($"{line}/approvals/{approvalId}/approve", actor: "supervisor")).Status);
        var (late, conflict) = await Http.PostJsonAsync($"{line}/approvals/{approvalId}/reject", actor: "supervisor");
        Assert.Equal((409, "approval_already_resolved"), (late, conflict.Str("code")));

        var (_, ledger) = await Http.GetJsonAsync($"{line}/ledger");
        var kinds = ledger.GetProperty("entries").EnumerateArray().Select(e => e.Str("kind")).ToList();
        Assert.Equal(["received", "policy_changed", "reserved", "approval_requested", "adjusted"], kinds);
        Assert.Equal("supervisor", ledger.GetProperty("entries")[4].Str("actor"));
    }

    // Proves an alert is raised with its cause when a count finds fewer than are held, blocks new reservations, and clears with the corrective movement.
    [Fact]
    public async Task A_negative_count_raises_an_alert_that_a_receipt_clears()
    {
        var line = await StockedAsync(5);
        await HoldAsync(line, Fresh.Id("o"), 4);
        var (counted, count) = await Http.PostJsonAsync($"{line}/counts", new { countedQuantity = 2 }, actor: "counter");
        Assert.Equal(200, counted);
        Assert.Equal(-3, count.Long("variance"));
        var cause = count.GetProperty("line").Long("sequence");

        var (_, alerts) = await Http.GetJsonAsync("/v1/alerts?limit=1000");
        var alert = Assert.Single(alerts.GetProperty("alerts").EnumerateArray(), a => line.EndsWith($"{a.Str("warehouse")}/{a.Str("sku")}", StringComparison.Ordinal));
        Assert.Equal(cause, alert.Long("causeSequence"));
        Assert.Equal("counted", alert.Str("causeKind"));
        Assert.Equal("counter", alert.Str("causeActor"));

        var parts = line.Split('/');
        var (blocked, _) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId = Fresh.Id("o"), lines = new[] { new { sku = parts[4], warehouse = parts[3], quantity = 1 } } });
        Assert.Equal(409, blocked);

        await Http.PostJsonAsync($"{line}/receipts", new { quantity = 2 });
        var (_, cleared) = await Http.GetJsonAsync("/v1/alerts?limit=1000");
        Assert.DoesNotContain(cleared.GetProperty("alerts").EnumerateArray(), a => line.EndsWith($"{a.Str("warehouse")}/{a.Str("sku")}", StringComparison.Ordinal));
    }

    // Proves a count taken while 50 reservations and a receipt land keeps every one of them.
    [Fact]
    public async Task A_count_while_selling_keeps_the_reservations_and_receipt_that_landed_during_it()
    {
        var line = await StockedAsync(100);
        var (_, before) = await Http.GetJsonAsync(line);
        var startedAt = before.Long("sequence");

        var parts = line.Split('/');
        var during = Enumerable.Range(0, 50).Select(i => Http.PostJsonAsync("/v1/reservations",
                new { reservationId = Fresh.Id("o"), lines = new[] { new { sku = parts[4], warehouse = parts[3], quantity = 1 } } }))
            .Append(Http.PostJsonAsync($"{line}/receipts", new { quantity = 7 }));
        Assert.All(await Task.WhenAll(during), r => Assert.True(r.Status is 200 or 201));

        // The counters found 98 of the 100 that were there when they started.
        var (status, count) = await Http.PostJsonAsync($"{line}/counts", new { countedQuantity = 98, countStartedAtSequence = startedAt });
        Assert.Equal(200, status);
        Assert.Equal(-2, count.Long("variance"));
        var after = count.GetProperty("line");
        Assert.Equal(100 + 7 - 2, after.Long("onHand"));
        Assert.Equal(50, after.Long("reserved"));
    }

    // Proves packs: one case reserves 12 pieces, a pallet on a SKU without pallets is 400, and the ledger keeps the unit entered.
    [Fact]
    public async Task A_case_reserves_twelve_pieces_and_an_undefined_pack_is_refused()
    {
        var sku = Fresh.Id("sku");
        var warehouse = Fresh.Id("w");
        Assert.Equal(200, (await Http.PutJsonAsync($"/v1/skus/{sku}", new { baseUnit = "piece", packs = new Dictionary<string, long> { ["case"] = 12 } })).Status);
        await Http.PostJsonAsync($"/v1/stock/{warehouse}/{sku}/receipts", new { quantity = 2, unit = "case" });

        var (created, _) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId = Fresh.Id("o"), lines = new[] { new { sku, warehouse, quantity = 1, unit = "case" } } });
        Assert.Equal(201, created);
        var (_, line) = await Http.GetJsonAsync($"/v1/stock/{warehouse}/{sku}");
        Assert.Equal((24L, 12L), (line.Long("onHand"), line.Long("reserved")));

        var (bad, problem) = await Http.PostJsonAsync("/v1/reservations",
            new { reservationId = Fresh.Id("o"), lines = new[] { new { sku, warehouse, quantity = 5, unit = "pallet" } } });
        Assert.Equal(400, bad);
        Assert.Equal("validation_failed", problem.Str("code"));

        var (_, ledger) = await Http.GetJsonAsync($"/v1/stock/{warehouse}/{sku}/ledger");
        var reserved = ledger.GetProperty("entries").EnumerateArray().Single(e => e.Str("kind") == "reserved");
        Assert.Equal(("case", 1L, 12L), (reserved.Str("unit"), reserved.Long("unitQuantity"), reserved.Long("quantity")));
    }

    // Proves a transfer retried five times moves the units once, is in transit in between, and cannot take reserved units.
    [Fact]
    public async Task A_transfer_retried_five_times_moves_the_units_once()
    {
        var sku = Fresh.Id("sku");
        string from = Fresh.Id("w"), to = Fresh.Id("w");
        await StockedAsync(10, $"/v1/stock/{from}/{sku}");
        await HoldAsync($"/v1/stock/{from}/{sku}", Fresh.Id("o"), 6);
        var transferId = Fresh.Id("t");

        var (tooMuch, refused) = await Http.PostJsonAsync("/v1/transfers", new { transferId = Fresh.Id("t"), sku, fromWarehouse = from, toWarehouse = to, quantity = 5 });
        Assert.Equal(409, tooMuch);
        Assert.Equal("units_reserved", refused.Str("code"));

        var statuses = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await Http.PostJsonAsync("/v1/transfers", new { transferId, sku, fromWarehouse = from, toWarehouse = to, quantity = 4 })).Status);
        }

        Assert.Equal([201, 200, 200, 200, 200], statuses);
        Assert.Equal("in_transit", (await Http.GetJsonAsync($"/v1/transfers/{transferId}")).Body.Str("status"));
        Assert.Equal(6, (await Http.GetJsonAsync($"/v1/stock/{from}/{sku}")).Body.Long("onHand"));
        Assert.Equal(0, (await Http.GetJsonAsync($"/v1/stock/{to}/{sku}")).Body.Long("onHand"));

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(200, (await Http.PostJsonAsync($"/v1/transfers/{transferId}/receive")).Status);
        }

        Assert.Equal(4, (await Http.GetJsonAsync($"/v1/stock/{to}/{sku}")).Body.Long("onHand"));
        Assert.Equal(6, (await Http.GetJsonAsync($"/v1/stock/{from}/{sku}")).Body.Long("onHand"));
        Assert.Equal("received", (await Http.GetJsonAsync($"/v1/transfers/{transferId}")).Body.Str("status"));
    }

    // Proves a return restocks on hand with its reason.
    [Fact]
    public async Task A_return_restocks_on_hand_with_its_reason()
    {
        var line = await StockedAsync(1);
        var (status, body) = await Http.PostJsonAsync($"{line}/returns", new { quantity = 2, reason = "customer", reference = "RMA-9" }, key: "rma-9");
        Assert.Equal(200, status);
        Assert.Equal(3, body.Long("onHand"));
        Assert.Equal(3, (await Http.PostJsonAsync($"{line}/returns", new { quantity = 2, reason = "customer", reference = "RMA-9" }, key: "rma-9")).Body.Long("onHand"));
        var (_, ledger) = await Http.GetJsonAsync($"{line}/ledger");
        var entry = ledger.GetProperty("entries")[1];
        Assert.Equal(("returned", "customer", "RMA-9"), (entry.Str("kind"), entry.Str("reason"), entry.Str("reference")));
    }

    // Proves a SKU's negative-stock policy reaches its existing lines, while a line with its own policy keeps it.
    [Fact]
    public async Task A_sku_policy_reaches_its_lines_but_not_one_with_its_own_policy()
    {
        var sku = Fresh.Id("sku");
        string a = Fresh.Id("w"), b = Fresh.Id("w");
        await StockedAsync(1, $"/v1/stock/{a}/{sku}");
        await StockedAsync(1, $"/v1/stock/{b}/{sku}");
        await Http.PutJsonAsync($"/v1/stock/{b}/{sku}/policy", new { negativeStock = "block", safetyStock = 0 });

        Assert.Equal(200, (await Http.PutJsonAsync($"/v1/skus/{sku}", new { baseUnit = "piece", negativeStock = "allow" })).Status);
        Assert.Equal("allow", (await Http.GetJsonAsync($"/v1/stock/{a}/{sku}")).Body.Str("negativeStock"));
        Assert.Equal("block", (await Http.GetJsonAsync($"/v1/stock/{b}/{sku}")).Body.Str("negativeStock"));
        var c = Fresh.Id("w");
        Assert.Equal("allow", (await Http.GetJsonAsync($"/v1/stock/{c}/{sku}")).Body.Str("negativeStock"));
    }
}
