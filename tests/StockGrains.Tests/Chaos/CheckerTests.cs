using StockGrains.Chaos;

namespace StockGrains.Tests.Chaos;

/// <summary>
/// The checker on hand-made histories: each kind of violation is counted, and a clean history counts nothing. These
/// prove each count can fail without a cluster.
/// </summary>
public sealed class CheckerTests
{
    private const string Line = "w1/hot";

    private static Attempt Try(int op, string kind, string id, long quantity, Outcome outcome, int attempt = 1, int status = 200) =>
        new(op, attempt, kind, Line, id, quantity, "t", 0, 0, outcome, outcome == Outcome.Ok ? status : outcome == Outcome.Fail ? 409 : 0, null);

    private static Entry E(long sequence, string kind, long quantity, string? reservation, string operation, long onHand, long reserved) =>
        new(sequence, kind, quantity, reservation, operation, onHand, reserved);

    /// <summary>A receipt of 5, a hold of 2 and its shipment: consistent ledger, final read and history.</summary>
    private static (List<Attempt> History, List<Entry> Ledger) Clean() =>
    (
        [
            Try(1, "receive", "rc1", 5, Outcome.Unknown), Try(1, "receive", "rc1", 5, Outcome.Ok, attempt: 2),
            Try(2, "reserve", "o1", 2, Outcome.Ok, status: 201),
            Try(3, "commit", "o1", 2, Outcome.Ok),
            Try(4, "ship", "o1", 2, Outcome.Ok),
            Try(5, "reserve", "o2", 9, Outcome.Fail),
        ],
        [
            E(1, "received", 5, null, "rc1", 5, 0),
            E(2, "reserved", 2, "o1", "o1", 5, 2),
            E(3, "committed", 2, "o1", "o1:commit", 5, 2),
            E(4, "shipped", 2, "o1", "o1:ship", 3, 0),
            E(5, "refused", 9, "o2", "o2", 3, 0),
        ]
    );

    private static ChaosReport Check(List<Attempt> history, List<Entry> ledger, Dictionary<string, string?>? orders = null)
    {
        var last = ledger.Count == 0 ? (0L, 0L) : (ledger[^1].OnHandAfter, ledger[^1].ReservedAfter);
        var final = new FinalState(
            new Dictionary<string, (long, long, long)> { [Line] = (last.Item1, last.Item2, ledger.Count) },
            new Dictionary<string, IReadOnlyList<Entry>> { [Line] = ledger },
            orders ?? new Dictionary<string, string?> { ["o1"] = "shipped", ["o2"] = null });
        return Checker.Check(1, history, final);
    }

    // Proves a consistent history counts nothing: retries with the same id and refusals are fine.
    [Fact]
    public void A_clean_history_has_no_violation()
    {
        var (history, ledger) = Clean();
        var report = Check(history, ledger);
        Assert.True(report.Clean, report.ToString());
    }

    // Proves an acknowledged receipt with no entry in the ledger is counted as lost.
    [Fact]
    public void An_acknowledged_change_missing_from_the_ledger_is_lost()
    {
        var (history, ledger) = Clean();
        history.Add(Try(6, "receive", "rc2", 1, Outcome.Ok));
        Assert.Equal(1, Check(history, ledger).AcknowledgedButLost);
    }

    // Proves one logical operation that took effect under two ids is a duplicate effect.
    [Fact]
    public void One_operation_applied_under_two_ids_is_a_duplicate()
    {
        var (history, ledger) = Clean();
        history.Add(Try(6, "receive", "rc2", 1, Outcome.Unknown));
        history.Add(Try(6, "receive", "rc2-r2", 1, Outcome.Ok, attempt: 2));
        ledger.Add(E(6, "received", 1, null, "rc2", 4, 0));
        ledger.Add(E(7, "received", 1, null, "rc2-r2", 5, 0));
        Assert.Equal(1, Check(history, ledger).DuplicateEffects);
    }

    // Proves an entry no one asked for is a phantom.
    [Fact]
    public void An_entry_nobody_invoked_is_a_phantom()
    {
        var (history, ledger) = Clean();
        ledger.Add(E(6, "received", 1, null, "ghost", 4, 0));
        Assert.Equal(1, Check(history, ledger).PhantomEntries);
    }

    // Proves a refusal whose effect is in the ledger anyway is counted.
    [Fact]
    public void A_refused_operation_that_took_effect_is_counted()
    {
        var (history, ledger) = Clean();
        ledger[4] = E(5, "reserved", 9, "o2", "o2", 3, 9);
        var report = Check(history, ledger, new Dictionary<string, string?> { ["o1"] = "shipped", ["o2"] = "pending" });
        Assert.Equal(1, report.RefusedButApplied);
        Assert.Equal(1, report.Oversell);
    }

    // Proves balances that do not follow from the entries are a conservation error.
    [Fact]
    public void Balances_that_do_not_follow_from_the_entries_break_conservation()
    {
        var (history, ledger) = Clean();
        ledger[3] = E(4, "shipped", 2, "o1", "o1:ship", 4, 0);
        ledger[4] = E(5, "refused", 9, "o2", "o2", 4, 0);
        Assert.Equal(1, Check(history, ledger).ConservationErrors);
    }

    // Proves the same seed gives the same fault schedule, and another seed another one.
    [Fact]
    public void The_same_seed_replays_the_same_fault_schedule()
    {
        var options = new ChaosOptions { Seed = 42, Silos = 3, Duration = TimeSpan.FromSeconds(60) };
        Assert.Equal(Faults.Plan(options), Faults.Plan(options with { }));
        var others = Enumerable.Range(43, 5).Select(seed => Faults.Describe(Faults.Plan(options with { Seed = seed })));
        Assert.Contains(others, o => o != Faults.Describe(Faults.Plan(options)));
    }
}
