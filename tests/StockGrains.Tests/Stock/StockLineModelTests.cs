using StockGrains.Grains.Stock;
using StockGrains.Stock;

namespace StockGrains.Tests.Stock;

/// <summary>
/// Seeded model-based test: thousands of random sequences of receive, reserve, commit, ship, release, expire,
/// duplicate retries and clock advances, run against the rules and against a deliberately simple reference model.
/// </summary>
public sealed class StockLineModelTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    // Proves, over 2,000 seeded random histories with operator movements, every invariant of a line: no oversell under block
    // (only a count can go below zero, and then an alert is open), reserved = Σ open holds, ledger replay reproduces the
    // balances, each operation id takes effect once, each hold resolves once, even when lookups see only the durable ledger.
    [Fact]
    public void Random_histories_keep_every_invariant_of_a_line()
    {
        for (var seed = 1; seed <= 2_000; seed++)
        {
            Run(seed, steps: 60);
        }
    }

    private static void Run(int seed, int steps)
    {
        var random = new Random(seed);
        var key = StockKey.Create("w", "s");
        var rules = new StockLineRules(key, rememberLimit: random.Next(2) == 0 ? 4 : 10_000);
        var model = new Model();
        var ledger = new List<LedgerEntry>();
        var issued = new List<(string Id, Func<DateTimeOffset, Decision> Run)>();
        string? id0 = null;

        // What the grain does before deciding: bring back what the line forgot about an id, from the durable ledger.
        var durable = 0L;
        void Lookup(string id) => rules.Remember(id, ledger.Where(e => e.Sequence <= durable && (e.OperationId == id || e.ReservationId == id)).ToList());
        var now = T0;

        for (var step = 0; step < steps; step++)
        {
            var choice = random.Next(100);
            Func<DateTimeOffset, Decision>? command = null;
            if (choice < 15)
            {
                var cmd = new ReceiveCommand($"rc{step}", random.Next(1, 5), "op");
                model.Receive(cmd.OperationId, cmd.Quantity);
                id0 = cmd.OperationId;
                command = t => rules.Receive(cmd, t);
            }
            else if (choice < 45)
            {
                var cmd = new ReserveCommand($"h{step}", random.Next(1, 4), now.AddSeconds(random.Next(1, 30)), "co");
                model.Reserve(cmd.ReservationId, cmd.Quantity, cmd.ExpiresAt);
                id0 = cmd.ReservationId;
                command = t => rules.Reserve(cmd, t);
            }
            else if (choice < 58)
            {
                // Operator truth: adjustments, counts, returns and transfers out.
                var op = $"op{step}";
                id0 = op;
                switch (random.Next(4))
                {
                    case 0:
                        var delta = random.Next(-3, 4) is var d && d == 0 ? 1 : d;
                        var adjust = new AdjustCommand(op, delta, AdjustmentReason.Correction, "clerk");
                        model.Adjust(op, delta);
                        command = t => rules.Adjust(adjust, t);
                        break;
                    case 1:
                        var count = new CountCommand(op, Math.Max(0, model.OnHand + random.Next(-3, 3)), null, "counter");
                        model.Count(op, count.CountedQuantity);
                        command = t => rules.Count(count, null, t);
                        break;
                    case 2:
                        var ret = new ReturnCommand(op, random.Next(1, 3), "customer", "desk");
                        model.Receive(op, ret.Quantity);
                        command = t => rules.Return(ret, t);
                        break;
                    default:
                        var transfer = new TransferCommand(op, random.Next(1, 3), "elsewhere", "op");
                        model.TransferOut(op, transfer.Quantity);
                        command = t => rules.TransferOut(transfer, t);
                        break;
                }
            }
            else if (choice < 80 && model.Holds.Count > 0)
            {
                var id = model.Holds.Keys.ElementAt(random.Next(model.Holds.Count));
                var cmd = new HoldCommand(id, "co");
                id0 = id;
                switch (random.Next(3))
                {
                    case 0:
                        model.Transition(id, HoldStatus.Pending, HoldStatus.Committed);
                        command = t => rules.Commit(cmd, t);
                        break;
                    case 1:
                        model.Transition(id, HoldStatus.Committed, HoldStatus.Shipped);
                        command = t => rules.Ship(cmd, t);
                        break;
                    default:
                        model.Release(id);
                        command = t => rules.Release(cmd, t);
                        break;
                }
            }
            else if (choice < 90 && issued.Count > 0)
            {
                // A duplicate retry of an earlier command: it must change nothing.
                var before = rules.View;
                var (retryId, retry) = issued[random.Next(issued.Count)];
                Lookup(retryId);
                var replay = retry(now);
                if (replay.Entry is not null && replay.Entry.Kind != LedgerEntryKind.Expired)
                {
                    // A retried transition may only produce an entry if the first attempt was a no-op refusal.
                    Assert.True(replay.Entry.Kind is LedgerEntryKind.Committed or LedgerEntryKind.Shipped or LedgerEntryKind.Released,
                        $"seed {seed}: a retry appended {replay.Entry.Kind}");
                    ledger.Add(replay.Entry);
                    model.Follow(replay.Entry);
                }
                else
                {
                    Assert.Equal(before, rules.View);
                }
            }
            else
            {
                now = now.AddSeconds(random.Next(1, 20));
            }

            // The check on every call, as the grain does it.
            foreach (var expired in rules.ExpireDue(now))
            {
                ledger.Add(expired);
                model.Follow(expired);
            }

            if (command is not null)
            {
                Lookup(id0!);
                var decision = command(now);
                issued.Add((id0!, command));
                if (decision.Entry is { } entry)
                {
                    ledger.Add(entry);
                    if (entry.Kind is LedgerEntryKind.Reserved or LedgerEntryKind.Refused && entry.ReservationId is not null)
                    {
                        model.Settle(entry);
                    }
                }
            }

            // The writer makes entries durable in batches, some steps after they were decided.
            if (random.Next(3) == 0)
            {
                durable = rules.Sequence;
                rules.Durable(durable);
            }

            model.ExpireDue(now, rules);
            Check(seed, rules, model, ledger);
        }
    }

    private static void Check(int seed, StockLineRules rules, Model model, List<LedgerEntry> ledger)
    {
        // Under block only physical truth (a count) can put a line below zero, and then an alert is open.
        Assert.True(rules.Available >= 0 || rules.AlertCause is not null, $"seed {seed}: available {rules.Available} < 0 with no alert");
        Assert.Equal(rules.OnHand < rules.Reserved || rules.OnHand < 0, rules.AlertCause is not null);
        Assert.Equal(model.OnHand, rules.OnHand);
        Assert.Equal(model.Holds.Values.Where(h => h.Status is HoldStatus.Pending or HoldStatus.Committed).Sum(h => h.Quantity), rules.Reserved);
        Assert.Equal(rules.Holds.Where(h => h.Status is HoldStatus.Pending or HoldStatus.Committed).Sum(h => h.Quantity), rules.Reserved);

        var replayed = new StockLineRules(rules.Key);
        foreach (var entry in ledger)
        {
            replayed.Apply(entry);
        }

        Assert.Equal(rules.View, replayed.View);
        Assert.Equal(ledger.Count, ledger.Select(e => e.OperationId).Distinct().Count());
        foreach (var group in ledger.Where(e => e.ReservationId is not null).GroupBy(e => e.ReservationId))
        {
            Assert.True(group.Count(e => e.Kind is LedgerEntryKind.Shipped or LedgerEntryKind.Released or LedgerEntryKind.Expired) <= 1,
                $"seed {seed}: hold {group.Key} resolved more than once");
        }
    }

    /// <summary>The reference: the rules of a line written as plainly as possible.</summary>
    private sealed class Model
    {
        public long OnHand { get; private set; }

        public HashSet<string> Receipts { get; } = [];

        public Dictionary<string, (long Quantity, HoldStatus Status, DateTimeOffset ExpiresAt)> Holds { get; } = [];

        private long Reserved => Holds.Values.Where(h => h.Status is HoldStatus.Pending or HoldStatus.Committed).Sum(h => h.Quantity);

        public void Receive(string id, long quantity)
        {
            if (Receipts.Add(id))
            {
                OnHand += quantity;
            }
        }

        public void Adjust(string id, long delta)
        {
            if (Receipts.Add(id) && (delta > 0 || OnHand + delta >= Reserved))
            {
                OnHand += delta;
            }
        }

        public void Count(string id, long counted)
        {
            if (Receipts.Add(id))
            {
                OnHand = counted;
            }
        }

        public void TransferOut(string id, long quantity)
        {
            if (Receipts.Add(id) && OnHand - quantity >= Reserved && OnHand >= quantity)
            {
                OnHand -= quantity;
            }
        }

        public void Reserve(string id, long quantity, DateTimeOffset expiresAt)
        {
            if (!Holds.ContainsKey(id))
            {
                Holds[id] = (quantity, OnHand - Reserved >= quantity ? HoldStatus.Pending : HoldStatus.Refused, expiresAt);
            }
        }

        public void Settle(LedgerEntry entry)
        {
            var expected = Holds[entry.ReservationId!].Status;
            Assert.Equal(expected == HoldStatus.Refused ? LedgerEntryKind.Refused : LedgerEntryKind.Reserved, entry.Kind);
        }

        public void Transition(string id, HoldStatus from, HoldStatus to)
        {
            var h = Holds[id];
            if (h.Status == from)
            {
                if (to == HoldStatus.Shipped)
                {
                    OnHand -= h.Quantity;
                }

                Holds[id] = h with { Status = to };
            }
        }

        public void Release(string id)
        {
            var h = Holds[id];
            if (h.Status is HoldStatus.Pending or HoldStatus.Committed)
            {
                Holds[id] = h with { Status = HoldStatus.Released };
            }
        }

        public void Follow(LedgerEntry entry)
        {
            var h = Holds[entry.ReservationId!];
            var to = entry.Kind switch
            {
                LedgerEntryKind.Expired => HoldStatus.Expired,
                LedgerEntryKind.Committed => HoldStatus.Committed,
                LedgerEntryKind.Shipped => HoldStatus.Shipped,
                _ => HoldStatus.Released,
            };
            if (to == HoldStatus.Shipped && h.Status != HoldStatus.Shipped)
            {
                OnHand -= h.Quantity;
            }

            Holds[entry.ReservationId!] = h with { Status = to };
        }

        public void ExpireDue(DateTimeOffset now, StockLineRules rules)
        {
            foreach (var (id, h) in Holds.ToList())
            {
                if (h.Status == HoldStatus.Pending && h.ExpiresAt <= now)
                {
                    Assert.Fail($"hold {id} is due at {h.ExpiresAt} but still pending at {now} (rules: {rules.FindHold(id)?.Status})");
                }
            }
        }
    }
}
