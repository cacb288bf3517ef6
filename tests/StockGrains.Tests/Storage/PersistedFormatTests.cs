using System.Runtime.CompilerServices;
using StockGrains.Grains.Reservations;
using StockGrains.Grains.Stock;
using StockGrains.Grains.Storage;
using StockGrains.Reservations;
using StockGrains.Stock;

namespace StockGrains.Tests.Storage;

/// <summary>
/// Golden files for every persisted JSON shape. A change that alters a stored format fails here, so it must come
/// with a new format version and a migration instead of silently breaking rows already on disk.
/// </summary>
public sealed class PersistedFormatTests
{
    private static readonly DateTimeOffset At = new(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);

    // Proves the stock-line snapshot format is stable and carries no .NET type names.
    [Fact]
    public void The_stock_line_snapshot_format_matches_its_golden_file()
    {
        var snapshot = new StockLineSnapshot
        {
            Sequence = 42,
            OnHand = 10,
            Reserved = 3,
            Committed = 1,
            SafetyStock = 2,
            NegativeStock = NegativeStockPolicy.Block,
            Holds =
            [
                new SnapshotHold { ReservationId = "o1", Quantity = 2, Status = HoldStatus.Pending, ExpiresAt = At, Fingerprint = "reserve|2", Sequence = 40, Owner = "shop" },
                new SnapshotHold { ReservationId = "o2", Quantity = 1, Status = HoldStatus.Committed, ExpiresAt = At, Fingerprint = "reserve|1", Sequence = 41, Owner = "shop" },
            ],
            Operations =
            [
                new LedgerEntry(1, LedgerEntryKind.Received, 10, null, null, "k1", "op", "po-7", At, 10, 0, 0, 0, NegativeStockPolicy.Block, null, "receive|10|po-7"),
            ],
        };

        snapshot.AlertCause = 41;
        snapshot.PolicySource = PolicySource.Line;
        snapshot.Approvals =
        [
            new SnapshotApproval
            {
                Request = new LedgerEntry(43, LedgerEntryKind.ApprovalRequested, -4, "damaged", null, "adj-1", "clerk", null, At, 10, 3, 1, 2,
                    NegativeStockPolicy.Approval, null, "adjust|-4|damaged||") { ApprovalId = "adj-1", Note = "forklift" },
                Status = ApprovalStatus.Pending,
            },
        ];
        AssertGolden("stock-line-snapshot.v3.json", new SnapshotSerializer().Serialize(snapshot).ToString());
    }

    // Proves the order-reservation state format is stable and carries no .NET type names.
    [Fact]
    public void The_reservation_state_format_matches_its_golden_file()
    {
        var state = new ReservationState
        {
            Fingerprint = "ttl=600;tp=;w1/mug=2",
            Status = ReservationStatus.Pending,
            PlacedAt = At,
            ExpiresAt = At.AddMinutes(10),
            Actor = "checkout",
            TradePolicy = "web",
            PolicyWarehouses = ["w1", "w2"],
            Allocation = StockGrains.TradePolicies.AllocationStrategy.Priority,
            Requested = [new ReservationLineRequest("mug", null, 3, new StockGrains.Stock.EnteredQuantity("case", 1))],
            Attempts =
            [
                new LineAttempt { Sku = "mug", Warehouse = "w1", Quantity = 2, Allocated = true, Outcome = AttemptOutcome.Held, Available = 0 },
                new LineAttempt { Sku = "mug", Warehouse = "w2", Quantity = 1, Allocated = true, Outcome = AttemptOutcome.Unknown },
            ],
            ShortLines = [],
        };

        AssertGolden("reservation-state.v2.json", new SnapshotSerializer().Serialize(state).ToString());
    }

    // Proves a snapshot written in the older format 1 still loads into a line.
    [Fact]
    public void A_format_one_snapshot_still_loads_into_a_line()
    {
        var json = File.ReadAllText(GoldenPath("stock-line-snapshot.v1.json"));
        var snapshot = new SnapshotSerializer().Deserialize<StockLineSnapshot>(BinaryData.FromString(json));
        var rules = StockLineRules.FromSnapshot(StockKey.Create("w1", "mug"), snapshot);
        Assert.Equal((10L, 3L, 1L, 5L, 42L), (rules.OnHand, rules.Reserved, rules.Committed, rules.Available, rules.Sequence));
        Assert.Equal(HoldStatus.Committed, rules.FindHold("o2")!.Status);
    }

    // Proves a snapshot written in format 2 (holds without owners) still loads, its holds counting against no client.
    [Fact]
    public void A_format_two_snapshot_still_loads_into_a_line()
    {
        var json = File.ReadAllText(GoldenPath("stock-line-snapshot.v2.json"));
        var snapshot = new SnapshotSerializer().Deserialize<StockLineSnapshot>(BinaryData.FromString(json));
        var rules = StockLineRules.FromSnapshot(StockKey.Create("w1", "mug"), snapshot);
        Assert.Equal((10L, 3L, 42L), (rules.OnHand, rules.Reserved, rules.Sequence));
        Assert.Equal(HoldStatus.Pending, rules.FindHold("o1")!.Status);
        Assert.Equal(41L, rules.AlertCause);
        Assert.Equal(0, rules.PendingHoldsOf("shop"));
    }

    private static void AssertGolden(string name, string actual)
    {
        // Regenerating a golden file is a deliberate act: STOCKGRAINS_UPDATE_GOLDEN=1, then review the diff.
        if (Environment.GetEnvironmentVariable("STOCKGRAINS_UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(GoldenPath(name), actual + "\n");
        }

        var expected = File.ReadAllText(GoldenPath(name)).TrimEnd();
        Assert.DoesNotContain("$type", actual, StringComparison.Ordinal);
        Assert.DoesNotContain("StockGrains.", actual, StringComparison.Ordinal);
        Assert.Equal(expected, actual);
    }

    private static string GoldenPath(string name, [CallerFilePath] string here = "") =>
        Path.Combine(Path.GetDirectoryName(here)!, "Golden", name);
}
