using StockGrains.Grains.Stock;
using StockGrains.Stock;

namespace StockGrains.Tests.Stock;

public sealed class OperatorRulesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly StockKey Key = StockKey.Create("w1", "mug");

    private static StockLineRules Line(long onHand, NegativeStockPolicy policy = NegativeStockPolicy.Block, long threshold = long.MaxValue)
    {
        var rules = new StockLineRules(Key, countApprovalThreshold: threshold);
        rules.Receive(new ReceiveCommand("r0", onHand, "op"), T0);
        if (policy != NegativeStockPolicy.Block)
        {
            rules.SetPolicy(new SetPolicyCommand("p0", policy, 0, "admin"), T0);
        }

        return rules;
    }

    private static void Hold(StockLineRules rules, string id, long q) =>
        Assert.Equal(StockLineOutcome.Reserved, rules.Reserve(new ReserveCommand(id, q, T0.AddHours(1), "co"), T0).Result.Outcome);

    // Proves a write-off can never take reserved units under block: 5 on hand, 4 held, writing off 2 is refused and changes nothing.
    [Fact]
    public void A_write_off_of_reserved_units_is_refused()
    {
        var rules = Line(5);
        Hold(rules, "o", 4);
        var d = rules.Adjust(new AdjustCommand("a1", -2, AdjustmentReason.Damaged, "clerk"), T0);
        Assert.Equal(StockLineOutcome.UnitsReserved, d.Result.Outcome);
        Assert.Equal(5, rules.OnHand);
        Assert.Equal(StockLineOutcome.Adjusted, rules.Adjust(new AdjustCommand("a2", -1, AdjustmentReason.Damaged, "clerk"), T0).Result.Outcome);
        Assert.Equal(4, rules.OnHand);
        Assert.Equal(StockLineOutcome.UnitsReserved, rules.Adjust(new AdjustCommand("a1", -2, AdjustmentReason.Damaged, "clerk"), T0).Result.Outcome);
    }

    // Proves four eyes: under approval a write-off of held units is parked, the requester cannot approve it, another person can, and the line then raises an alert naming that movement.
    [Fact]
    public void An_approved_write_off_of_held_units_raises_an_alert_naming_its_cause()
    {
        var rules = Line(5, NegativeStockPolicy.Approval);
        Hold(rules, "o", 4);
        var parked = rules.Adjust(new AdjustCommand("a1", -3, AdjustmentReason.Shrinkage, "clerk", Note: "theft"), T0);
        Assert.Equal(StockLineOutcome.PendingApproval, parked.Result.Outcome);
        Assert.Equal(5, rules.OnHand);
        Assert.Single(rules.PendingApprovals);

        Assert.Equal(StockLineOutcome.SameActor, rules.ResolveApproval(new ResolveApprovalCommand("a1", true, "clerk"), T0).Result.Outcome);
        var approved = rules.ResolveApproval(new ResolveApprovalCommand("a1", true, "supervisor"), T0);
        Assert.Equal(StockLineOutcome.Approved, approved.Result.Outcome);
        Assert.Equal((2L, 4L), (rules.OnHand, rules.Reserved));
        Assert.Equal(approved.Entry!.Sequence, rules.AlertCause);
        Assert.Empty(rules.PendingApprovals);

        Assert.Equal(StockLineOutcome.BlockedByAlert, rules.Reserve(new ReserveCommand("new", 1, T0.AddHours(1), "co"), T0).Result.Outcome);
        rules.Receive(new ReceiveCommand("r1", 1, "op"), T0);
        Assert.NotNull(rules.AlertCause);
        rules.Receive(new ReceiveCommand("r2", 1, "op"), T0);
        Assert.Null(rules.AlertCause);
        Assert.Equal(StockLineOutcome.AlreadyApproved, rules.ResolveApproval(new ResolveApprovalCommand("a1", false, "boss"), T0).Result.Outcome);
    }

    // Proves a write-off parked for approval is still answered as pending when retried after many later operations, and is decided only by its approval: the line remembers a waiting request, and forgets it once resolved.
    [Fact]
    public void A_parked_write_off_retried_after_many_operations_is_still_pending()
    {
        var rules = new StockLineRules(Key, rememberLimit: 2);
        rules.Receive(new ReceiveCommand("r0", 5, "op"), T0);
        rules.SetPolicy(new SetPolicyCommand("p0", NegativeStockPolicy.Approval, 0, "admin"), T0);
        Hold(rules, "o", 4);
        var writeOff = new AdjustCommand("a1", -3, AdjustmentReason.Shrinkage, "clerk");
        Assert.Equal(StockLineOutcome.PendingApproval, rules.Adjust(writeOff, T0).Result.Outcome);

        // Enough later receipts that the request would be forgotten, and enough stock that the write-off would no longer need approval.
        for (var i = 0; i < 5; i++)
        {
            rules.Receive(new ReceiveCommand($"k{i}", 1, "op"), T0);
        }

        rules.Durable(rules.Sequence);
        Assert.False(rules.NeedsLookup("a1"));
        Assert.Equal(StockLineOutcome.AlreadyPendingApproval, rules.Adjust(writeOff, T0).Result.Outcome);
        Assert.Equal(10, rules.OnHand);
        Assert.Single(rules.PendingApprovals);

        Assert.Equal(StockLineOutcome.Approved, rules.ResolveApproval(new ResolveApprovalCommand("a1", true, "supervisor"), T0).Result.Outcome);
        Assert.Equal(7, rules.OnHand);
        for (var i = 5; i < 10; i++)
        {
            rules.Receive(new ReceiveCommand($"k{i}", 1, "op"), T0);
        }

        rules.Durable(rules.Sequence);
        Assert.True(rules.NeedsLookup("a1"));
    }

    // Proves a rejected approval changes no balance and is recorded.
    [Fact]
    public void A_rejected_adjustment_changes_nothing()
    {
        var rules = Line(5, NegativeStockPolicy.Approval);
        Hold(rules, "o", 5);
        rules.Adjust(new AdjustCommand("a1", -1, AdjustmentReason.Damaged, "clerk"), T0);
        var rejected = rules.ResolveApproval(new ResolveApprovalCommand("a1", false, "boss"), T0);
        Assert.Equal(StockLineOutcome.Rejected, rejected.Result.Outcome);
        Assert.Equal(LedgerEntryKind.ApprovalRejected, rejected.Entry!.Kind);
        Assert.Equal(5, rules.OnHand);
        Assert.Equal(StockLineOutcome.ApprovalNotFound, rules.ResolveApproval(new ResolveApprovalCommand("zzz", true, "boss"), T0).Result.Outcome);
    }

    // Proves a count while selling keeps the movements that landed after its start: the variance is against on hand at that sequence.
    [Fact]
    public void A_count_started_earlier_keeps_later_movements()
    {
        var rules = Line(10);
        var startedAt = rules.Sequence;
        var onHandAtStart = rules.OnHand;
        rules.Receive(new ReceiveCommand("r1", 5, "op"), T0);
        Hold(rules, "o", 3);
        rules.Commit(new HoldCommand("o", "x"), T0);
        rules.Ship(new HoldCommand("o", "x"), T0);

        // People counted 9 of the 10 that were there when they started: one is missing.
        var counted = rules.Count(new CountCommand("c1", 9, startedAt, "counter"), onHandAtStart, T0);
        Assert.Equal(StockLineOutcome.Counted, counted.Result.Outcome);
        Assert.Equal(-1, counted.Entry!.Quantity);
        Assert.Equal(10 + 5 - 3 - 1, rules.OnHand);
    }

    // Proves a count without a start counts now, and a variance over the threshold waits for approval.
    [Fact]
    public void A_large_count_variance_waits_for_approval()
    {
        var rules = Line(100, threshold: 10);
        Assert.Equal(StockLineOutcome.Counted, rules.Count(new CountCommand("c1", 95, null, "counter"), null, T0).Result.Outcome);
        Assert.Equal(95, rules.OnHand);
        var big = rules.Count(new CountCommand("c2", 50, null, "counter"), null, T0);
        Assert.Equal(StockLineOutcome.PendingApproval, big.Result.Outcome);
        Assert.Equal(95, rules.OnHand);
        Assert.Equal(StockLineOutcome.Approved, rules.ResolveApproval(new ResolveApprovalCommand("c2", true, "boss"), T0).Result.Outcome);
        Assert.Equal(50, rules.OnHand);
        Assert.Equal(StockLineOutcome.CountSequenceInvalid, rules.Count(new CountCommand("c3", 1, 999, "counter"), null, T0).Result.Outcome);
    }

    // Proves a count below what is held raises an alert with the count as cause, and blocks reservations until corrected.
    [Fact]
    public void A_count_below_the_held_units_raises_an_alert()
    {
        var rules = Line(5);
        Hold(rules, "o", 4);
        var count = rules.Count(new CountCommand("c1", 2, null, "counter"), null, T0);
        Assert.Equal(count.Entry!.Sequence, rules.AlertCause);
        Assert.Equal(count.Entry.Sequence, rules.View.AlertCause);
        Assert.Equal(StockLineOutcome.BlockedByAlert, rules.Reserve(new ReserveCommand("n", 1, T0.AddHours(1), "co"), T0).Result.Outcome);
        rules.Release(new HoldCommand("o", "co"), T0);
        Assert.Null(rules.AlertCause);
    }

    // Proves a transfer out never takes held units and a retried transfer moves the units once.
    [Fact]
    public void A_transfer_takes_only_free_units_and_only_once()
    {
        var source = Line(5);
        Hold(source, "o", 3);
        Assert.Equal(StockLineOutcome.UnitsReserved, source.TransferOut(new TransferCommand("t1", 3, "w2", "op"), T0).Result.Outcome);
        Assert.Equal(StockLineOutcome.TransferredOut, source.TransferOut(new TransferCommand("t2", 2, "w2", "op"), T0).Result.Outcome);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(StockLineOutcome.AlreadyTransferred, source.TransferOut(new TransferCommand("t2", 2, "w2", "op"), T0).Result.Outcome);
        }

        Assert.Equal(3, source.OnHand);
        Assert.Equal(StockLineOutcome.OperationIdReused, source.TransferOut(new TransferCommand("t2", 1, "w2", "op"), T0).Result.Outcome);
    }

    // Proves a return restocks on hand with its reason, once.
    [Fact]
    public void A_return_restocks_on_hand_once()
    {
        var rules = Line(1);
        Assert.Equal(StockLineOutcome.Returned, rules.Return(new ReturnCommand("ret", 2, "customer", "desk"), T0).Result.Outcome);
        Assert.Equal(StockLineOutcome.AlreadyReturned, rules.Return(new ReturnCommand("ret", 2, "customer", "desk"), T0).Result.Outcome);
        Assert.Equal(3, rules.OnHand);
    }

    // Proves a line's own policy outranks the SKU default, and a SKU default applies until the line sets its own.
    [Fact]
    public void A_line_policy_outranks_the_sku_default()
    {
        var rules = new StockLineRules(Key);
        rules.SetPolicy(new SetPolicyCommand("s1", NegativeStockPolicy.Allow, 0, "admin", PolicySource.Sku), T0);
        Assert.Equal(NegativeStockPolicy.Allow, rules.Policy);
        rules.SetPolicy(new SetPolicyCommand("l1", NegativeStockPolicy.Block, 2, "admin"), T0);
        var ignored = rules.SetPolicy(new SetPolicyCommand("s2", NegativeStockPolicy.Approval, 0, "admin", PolicySource.Sku), T0);
        Assert.Null(ignored.Entry);
        Assert.Equal((NegativeStockPolicy.Block, 2L), (rules.Policy, rules.SafetyStock));
    }

    // Proves the allow policy reports the backordered quantity.
    [Fact]
    public void A_backordering_line_reports_what_it_sold_ahead_of_stock()
    {
        var rules = Line(2, NegativeStockPolicy.Allow);
        Hold(rules, "o", 5);
        Assert.Equal(3, rules.View.Backordered);
        Assert.Null(rules.AlertCause);
    }
}
