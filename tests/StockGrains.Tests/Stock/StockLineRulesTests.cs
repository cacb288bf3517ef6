using StockGrains.Grains.Stock;
using StockGrains.Stock;

namespace StockGrains.Tests.Stock;

public sealed class StockLineRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly StockKey Key = StockKey.Create("w1", "mug");

    private static StockLineRules Line(long onHand)
    {
        var rules = new StockLineRules(Key);
        if (onHand > 0)
        {
            rules.Receive(new ReceiveCommand("r0", onHand, "op"), T0);
        }

        return rules;
    }

    private static ReserveCommand Reserve(string id, long q, int ttlSeconds = 60) => new(id, q, T0.AddSeconds(ttlSeconds), "checkout");

    // Proves the two-mugs race at the rules level: with 3 on hand, the second order for 2 is refused and available stays ≥ 0.
    [Fact]
    public void The_second_order_for_two_of_three_mugs_is_refused()
    {
        var rules = Line(3);
        Assert.Equal(StockLineOutcome.Reserved, rules.Reserve(Reserve("a", 2), T0).Result.Outcome);
        var second = rules.Reserve(Reserve("b", 2), T0);
        Assert.Equal(StockLineOutcome.InsufficientStock, second.Result.Outcome);
        Assert.Equal(1, rules.Available);
        Assert.Equal(LedgerEntryKind.Refused, second.Entry!.Kind);
    }

    // Proves a refusal is replayed as the same refusal even after stock arrives: the id is spent.
    [Fact]
    public void A_refused_reservation_id_stays_refused_after_a_receipt()
    {
        var rules = Line(1);
        rules.Reserve(Reserve("a", 2), T0);
        rules.Receive(new ReceiveCommand("r1", 10, "op"), T0);
        var retry = rules.Reserve(Reserve("a", 2), T0);
        Assert.Equal(StockLineOutcome.InsufficientStock, retry.Result.Outcome);
        Assert.True(retry.Result.Replayed);
        Assert.Null(retry.Entry);
        Assert.Equal(10 + 1, rules.Available);
    }

    // Proves the same reservation id with another quantity is a conflict that changes nothing.
    [Fact]
    public void The_same_reservation_id_with_another_quantity_is_a_conflict()
    {
        var rules = Line(5);
        rules.Reserve(Reserve("a", 2), T0);
        var again = rules.Reserve(Reserve("a", 3), T0);
        Assert.Equal(StockLineOutcome.ReservedWithDifferentQuantity, again.Result.Outcome);
        Assert.Null(again.Entry);
        Assert.Equal(2, rules.Reserved);
    }

    // Proves shipping consumes the hold: on hand and reserved fall together, so a write-off can never take held units.
    [Fact]
    public void Shipping_a_committed_hold_lowers_on_hand_and_reserved_together()
    {
        var rules = Line(5);
        rules.Reserve(Reserve("a", 2), T0);
        Assert.Equal(StockLineOutcome.InvalidTransition, rules.Ship(new HoldCommand("a", "x"), T0).Result.Outcome);
        Assert.Equal(StockLineOutcome.Committed, rules.Commit(new HoldCommand("a", "x"), T0).Result.Outcome);
        Assert.Equal(2, rules.Committed);
        Assert.Equal(StockLineOutcome.Shipped, rules.Ship(new HoldCommand("a", "x"), T0).Result.Outcome);
        Assert.Equal((3L, 0L, 0L, 3L), (rules.OnHand, rules.Reserved, rules.Committed, rules.Available));
        Assert.Equal(StockLineOutcome.AlreadyShipped, rules.Ship(new HoldCommand("a", "x"), T0).Result.Outcome);
        Assert.Equal(StockLineOutcome.InvalidTransition, rules.Release(new HoldCommand("a", "x"), T0).Result.Outcome);
    }

    // Proves a hold expires at its stored time, exactly once, and a committed hold does not expire.
    [Fact]
    public void A_pending_hold_expires_at_its_time_and_a_committed_one_does_not()
    {
        var rules = Line(5);
        rules.Reserve(Reserve("a", 2, ttlSeconds: 10), T0);
        rules.Reserve(Reserve("b", 1, ttlSeconds: 10), T0);
        rules.Commit(new HoldCommand("b", "x"), T0);
        Assert.Empty(rules.ExpireDue(T0.AddSeconds(9)));
        var expired = rules.ExpireDue(T0.AddSeconds(10));
        Assert.Equal("a", Assert.Single(expired).ReservationId);
        Assert.Empty(rules.ExpireDue(T0.AddSeconds(100)));
        Assert.Equal(1, rules.Reserved);
        Assert.Equal(StockLineOutcome.InvalidTransition, rules.Commit(new HoldCommand("a", "x"), T0.AddSeconds(11)).Result.Outcome);
        Assert.Equal(StockLineOutcome.AlreadyExpired, rules.Release(new HoldCommand("a", "x"), T0.AddSeconds(11)).Result.Outcome);
    }

    // Proves safety stock is held back from sale.
    [Fact]
    public void Safety_stock_is_not_available_for_sale()
    {
        var rules = Line(10);
        rules.SetPolicy(new SetPolicyCommand("p", NegativeStockPolicy.Block, 8, "admin"), T0);
        Assert.Equal(2, rules.Available);
        Assert.Equal(StockLineOutcome.InsufficientStock, rules.Reserve(Reserve("a", 3), T0).Result.Outcome);
        Assert.Equal(StockLineOutcome.Reserved, rules.Reserve(Reserve("b", 2), T0).Result.Outcome);
    }

    // Proves the allow policy backorders: reservations may exceed on hand.
    [Fact]
    public void The_allow_policy_lets_reservations_exceed_on_hand()
    {
        var rules = Line(1);
        rules.SetPolicy(new SetPolicyCommand("p", NegativeStockPolicy.Allow, 0, "admin"), T0);
        Assert.Equal(StockLineOutcome.Reserved, rules.Reserve(Reserve("a", 5), T0).Result.Outcome);
        Assert.Equal(-4, rules.Available);
    }

    // Proves a receipt retried with the same key answers with the balances it first produced and adds nothing.
    [Fact]
    public void A_retried_receipt_is_answered_with_its_original_balances()
    {
        var rules = Line(0);
        var first = rules.Receive(new ReceiveCommand("k", 5, "op"), T0);
        rules.Receive(new ReceiveCommand("k2", 7, "op"), T0);
        var retry = rules.Receive(new ReceiveCommand("k", 5, "op"), T0);
        Assert.Equal(StockLineOutcome.AlreadyReceived, retry.Result.Outcome);
        Assert.Equal(first.Result.Line, retry.Result.Line);
        Assert.Equal(12, rules.OnHand);
        Assert.Equal(StockLineOutcome.OperationIdReused, rules.Receive(new ReceiveCommand("k", 6, "op"), T0).Result.Outcome);
    }

    // Proves a forgotten operation is flagged for a store lookup and, once remembered, replays without a second effect.
    [Fact]
    public void A_forgotten_receipt_is_looked_up_and_not_applied_twice()
    {
        var rules = new StockLineRules(Key, rememberLimit: 2);
        var entries = new List<LedgerEntry>();
        for (var i = 0; i < 5; i++)
        {
            entries.Add(rules.Receive(new ReceiveCommand($"k{i}", 1, "op"), T0).Entry!);
            rules.Durable(entries[^1].Sequence);
        }

        Assert.True(rules.NeedsLookup("k0"));
        Assert.False(rules.NeedsLookup("k4"));
        rules.Remember("k0", [entries[0]]);
        Assert.Equal(StockLineOutcome.AlreadyReceived, rules.Receive(new ReceiveCommand("k0", 1, "op"), T0).Result.Outcome);
        Assert.Equal(5, rules.OnHand);
    }

    // Proves an operation is remembered until its entry is durable, however many came after: the ledger could not answer a lookup yet.
    [Fact]
    public void An_operation_is_not_forgotten_before_its_entry_is_durable()
    {
        var rules = new StockLineRules(Key, rememberLimit: 2);
        for (var i = 0; i < 5; i++)
        {
            rules.Receive(new ReceiveCommand($"k{i}", 1, "op"), T0);
        }

        Assert.False(rules.NeedsLookup("k0"));
        Assert.Equal(StockLineOutcome.AlreadyReceived, rules.Receive(new ReceiveCommand("k0", 1, "op"), T0).Result.Outcome);
        rules.Durable(2);
        Assert.True(rules.NeedsLookup("k0"));
        Assert.True(rules.NeedsLookup("k1"));
        Assert.False(rules.NeedsLookup("k2"));
        rules.Durable(5);
        Assert.True(rules.NeedsLookup("k2"));
        Assert.False(rules.NeedsLookup("k3"));
    }

    // Proves a snapshot plus the entries after it rebuilds exactly the same line.
    [Fact]
    public void A_snapshot_and_its_tail_rebuild_the_same_line()
    {
        var rules = Line(10);
        rules.Reserve(Reserve("a", 2), T0);
        rules.Commit(new HoldCommand("a", "x"), T0);
        var snapshot = rules.ToSnapshot();
        var tail = new List<LedgerEntry>
        {
            rules.Reserve(Reserve("b", 3), T0).Entry!,
            rules.Ship(new HoldCommand("a", "x"), T0).Entry!,
            rules.Reserve(Reserve("c", 99), T0).Entry!,
        };

        var rebuilt = StockLineRules.FromSnapshot(Key, snapshot);
        foreach (var entry in tail)
        {
            rebuilt.Apply(entry);
        }

        Assert.Equal(rules.View, rebuilt.View);
        Assert.Equal(StockLineOutcome.InsufficientStock, rebuilt.Reserve(Reserve("c", 99), T0).Result.Outcome);
        Assert.Equal(HoldStatus.Pending, rebuilt.FindHold("b")!.Status);
    }

    // Proves a line of thousands of holds, across many pages of its hold table and with forgotten holds' slots reused, comes
    // back whole from its snapshot and from its ledger: every hold, the balances, and the order in which holds expire.
    [Fact]
    public void Thousands_of_holds_come_back_whole_from_a_snapshot_and_from_the_ledger()
    {
        var rules = new StockLineRules(Key, rememberLimit: 100);
        var ledger = new List<LedgerEntry> { rules.Receive(new ReceiveCommand("in", 10_000, "op"), T0).Entry! };
        for (var i = 0; i < 3 * HoldTable.PageSize; i++)
        {
            // Packed and unpacked ids alike, expiring out of order.
            var id = i % 2 == 0 ? $"{i:x8}-3f1d-4a7e-9c2b-5d8f1e3a7b90" : $"order/{i}";
            ledger.Add(rules.Reserve(Reserve(id, 1 + (i % 3), ttlSeconds: 60 + ((i * 7919) % 600)), T0).Entry!);
            if (i % 5 == 0)
            {
                ledger.Add(rules.Commit(new HoldCommand(id, "x"), T0).Entry!);
            }

            if (i % 7 == 0)
            {
                ledger.Add(rules.Release(new HoldCommand(id, "x"), T0).Entry!);
            }

            rules.Durable(rules.Sequence);
        }

        var fromSnapshot = StockLineRules.FromSnapshot(Key, rules.ToSnapshot(), rememberLimit: 100);
        var fromLedger = new StockLineRules(Key, rememberLimit: 100);
        foreach (var entry in ledger)
        {
            fromLedger.Apply(entry);
        }

        fromLedger.Durable(fromLedger.Sequence);
        var holds = Sorted(rules);
        Assert.True(holds.Count > 2 * HoldTable.PageSize, $"only {holds.Count} holds kept");
        foreach (var rebuilt in new[] { fromSnapshot, fromLedger })
        {
            Assert.Equal(rules.View, rebuilt.View);
            Assert.Equal(holds, Sorted(rebuilt));
            Assert.Equal(rules.NextExpiry, rebuilt.NextExpiry);
        }

        var expired = rules.ExpireDue(T0.AddHours(1)).Select(e => e.ReservationId).ToList();
        Assert.Equal(holds.Count(h => h.Status == HoldStatus.Pending), expired.Count);
        Assert.Equal(expired, fromSnapshot.ExpireDue(T0.AddHours(1)).Select(e => e.ReservationId));
        Assert.Equal(expired, fromLedger.ExpireDue(T0.AddHours(1)).Select(e => e.ReservationId));

        static List<(string Id, HoldStatus Status, long Quantity, DateTimeOffset ExpiresAt)> Sorted(StockLineRules line) =>
            line.Holds.Select(h => (h.ReservationId, h.Status, h.Quantity, h.ExpiresAt)).OrderBy(h => h.ReservationId, StringComparer.Ordinal).ToList();
    }

    // Proves replay refuses an entry whose recorded balances disagree with the computed ones.
    [Fact]
    public void Replay_refuses_an_entry_whose_balances_were_tampered_with()
    {
        var rules = Line(0);
        var entry = rules.Receive(new ReceiveCommand("k", 5, "op"), T0).Entry!;
        var fresh = new StockLineRules(Key);
        Assert.Throws<LedgerMismatchException>(() => fresh.Apply(entry with { OnHandAfter = 6 }));
    }
}
