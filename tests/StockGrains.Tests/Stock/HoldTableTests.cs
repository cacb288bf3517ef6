using StockGrains.Grains.Stock;
using StockGrains.Stock;

namespace StockGrains.Tests.Stock;

public sealed class HoldTableTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static Hold Pending(string id, int expiresInSeconds, long sequence = 1) =>
        new(id, 1, HoldStatus.Pending, T0.AddSeconds(expiresInSeconds), "reserve|1", sequence);

    public static TheoryData<string, bool> Ids =>
    [
        ("", true),
        ("0", true),
        ("00", true),
        ("a", true),
        ("A", true),
        ("0b6e8c52-3f1d-4a7e-9c2b-5d8f1e3a7b90", true),
        ("ORD_2026-12-01_000042", true),
        ("lg1234abcd-63-1048575", true),
        (new string('z', HoldKey.MaxPacked), true),
        (new string('_', HoldKey.MaxPacked), true),
        (new string('z', HoldKey.MaxPacked + 1), false),
        ("order/42", false),
        ("order 42", false),
        ("crème", false),
        ("a.b", false),
        ("\u0000", false),
    ];

    // Proves an id is packed exactly when it fits the alphabet and the length, and comes back unchanged either way.
    [Theory]
    [MemberData(nameof(Ids))]
    public void An_id_is_packed_only_when_it_fits_and_comes_back_unchanged(string id, bool packed)
    {
        var key = HoldKey.Of(id);
        Assert.Equal(packed, !key.IsText);
        Assert.Equal(id, key.ToString());
        Assert.Equal(key, HoldKey.Of(new string(id.AsSpan())));
        Assert.Equal(key.GetHashCode(), HoldKey.Of(new string(id.AsSpan())).GetHashCode());
    }

    // Proves two keys are equal exactly when their ids are equal ordinally: case, length and every position count.
    [Fact]
    public void Keys_are_equal_exactly_when_their_ids_are()
    {
        string[] ids =
        [
            "", "0", "00", "000", "a", "A", "b", "ab", "ba", "-", "_", "a-", "a_",
            new string('a', 40), new string('a', 39) + "b", "b" + new string('a', 39), new string('a', 41), new string('a', 42),
            "x/1", "x/2", "abcdefghij", "abcdefghik", "abcdefghijabcdefghijabcdefghijabcdefghiJ",
        ];
        foreach (var left in ids)
        {
            foreach (var right in ids)
            {
                Assert.Equal(string.Equals(left, right, StringComparison.Ordinal), HoldKey.Of(left).Equals(HoldKey.Of(right)));
            }
        }
    }

    // Proves a table answers for a hold by any copy of its id, moves it in place, and forgets it when removed.
    [Fact]
    public void A_hold_is_found_by_its_id_moved_in_place_and_removed()
    {
        var table = new HoldTable();
        table.Add(Pending("0b6e8c52-3f1d-4a7e-9c2b-5d8f1e3a7b90", 60) with { Owner = "checkout" });
        table.Add(new Hold("order/7", 2, HoldStatus.Refused, T0, "reserve|2", 2) { RefusalReason = "insufficient_stock" });

        Assert.True(table.TryGet(new string("0b6e8c52-3f1d-4a7e-9c2b-5d8f1e3a7b90".AsSpan()), out var pending));
        Assert.Equal((HoldStatus.Pending, 1L, "checkout"), (pending.Status, pending.Sequence, pending.Owner));
        table.Move("0b6e8c52-3f1d-4a7e-9c2b-5d8f1e3a7b90", HoldStatus.Committed, 3);
        Assert.True(table.TryGet("0b6e8c52-3f1d-4a7e-9c2b-5d8f1e3a7b90", out var committed));
        Assert.Equal((HoldStatus.Committed, 3L, 60), (committed.Status, committed.Sequence, (int)(committed.ExpiresAt - T0).TotalSeconds));

        Assert.True(table.TryGet("order/7", out var refused));
        Assert.Equal(("insufficient_stock", 2L), (refused.RefusalReason, refused.Quantity));
        Assert.Equal(["0b6e8c52-3f1d-4a7e-9c2b-5d8f1e3a7b90", "order/7"], table.All.Select(h => h.ReservationId).Order(StringComparer.Ordinal));

        Assert.True(table.Remove("order/7"));
        Assert.False(table.Contains("order/7"));
        Assert.Throws<KeyNotFoundException>(() => table.Move("order/7", HoldStatus.Shipped, 4));
        Assert.Throws<ArgumentException>(() => table.Set(Pending("late", 5)));
    }

    // Proves expiries come out earliest first, only once due, and skip holds that stopped being pending meanwhile.
    [Fact]
    public void Due_holds_come_out_earliest_first_and_only_while_pending()
    {
        var table = new HoldTable();
        table.Add(Pending("late", 30));
        table.Add(Pending("early", 10));
        table.Add(Pending("committed", 5));
        table.Add(Pending("middle", 20));
        table.Move("committed", HoldStatus.Committed, 2);

        Assert.Equal(T0.AddSeconds(10), table.NextExpiry);
        Assert.False(table.TryTakeDue(T0.AddSeconds(9), out _));
        Assert.True(table.TryTakeDue(T0.AddSeconds(25), out var first));
        Assert.Equal("early", first.ReservationId);
        table.Move("early", HoldStatus.Expired, 5);
        Assert.True(table.TryTakeDue(T0.AddSeconds(25), out var second));
        Assert.Equal("middle", second.ReservationId);
        table.Move("middle", HoldStatus.Expired, 6);
        Assert.False(table.TryTakeDue(T0.AddSeconds(25), out _));
        Assert.Equal(T0.AddSeconds(30), table.NextExpiry);
        table.Move("late", HoldStatus.Released, 7);
        Assert.Null(table.NextExpiry);
    }

    // Proves the table stays exact across many pages, removals and reused slots, and that a reused slot's old expiry is ignored.
    [Fact]
    public void Holds_across_many_pages_stay_exact_through_removal_and_reuse()
    {
        var table = new HoldTable();
        var count = HoldTable.PageSize * 5 + 17;
        for (var i = 0; i < count; i++)
        {
            table.Add(Pending($"h-{i}", 1_000 + i, i + 1));
        }

        for (var i = 0; i < count; i += 3)
        {
            Assert.True(table.Remove($"h-{i}"));
        }

        Assert.False(table.Remove("h-0"));
        for (var i = 0; i < 100; i++)
        {
            // Into freed slots; these expire first, and the holds that used their slots must not be taken for them.
            table.Add(Pending($"again/{i}", 1 + i));
        }

        var expected = Enumerable.Range(0, count).Where(i => i % 3 != 0).Select(i => $"h-{i}").Concat(Enumerable.Range(0, 100).Select(i => $"again/{i}")).ToHashSet();
        Assert.Equal(expected.Count, table.Count);
        Assert.Equal(expected, table.All.Select(h => h.ReservationId).ToHashSet());
        Assert.All(expected, id => Assert.True(table.TryGet(id, out var hold) && hold.ReservationId == id));
        Assert.All(Enumerable.Range(0, count).Where(i => i % 3 == 0), i => Assert.False(table.Contains($"h-{i}")));

        var due = new List<string>();
        while (table.TryTakeDue(T0.AddSeconds(1_010), out var hold))
        {
            due.Add(hold.ReservationId);
            table.Move(hold.ReservationId, HoldStatus.Expired, 0);
        }

        // Due by then: the 100 new holds, then h-1 to h-10 but for the removed h-0, h-3, h-6 and h-9 (h-10 is due that very second).
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"again/{i}").Concat(["h-1", "h-2", "h-4", "h-5", "h-7", "h-8", "h-10"]), due);
    }

    // Proves, over seeded random histories that place, commit and expire holds in any order, that due holds come out
    // exactly in the order of their expiry and then of their placing, as a sorted list of the pending holds says.
    [Fact]
    public void Expiries_come_out_in_order_of_time_then_placing_in_any_history()
    {
        for (var seed = 1; seed <= 200; seed++)
        {
            var random = new Random(seed);
            var table = new HoldTable();
            var pending = new SortedSet<(DateTimeOffset At, long Sequence, string Id)>();
            var now = T0;
            for (var step = 1; step <= 3_000; step++)
            {
                var choice = random.Next(10);
                if (choice < 6)
                {
                    // Mostly one lifetime, so most holds join the run; some are due sooner, a few at the same moment.
                    var at = now.AddSeconds(random.Next(4) == 0 ? random.Next(1, 40) : 40);
                    var id = $"h{step}";
                    table.Add(new Hold(id, 1, HoldStatus.Pending, at, "reserve|1", step));
                    pending.Add((at, step, id));
                }
                else if (choice < 7 && pending.Count > 0)
                {
                    var (at, sequence, id) = pending.ElementAt(random.Next(pending.Count));
                    table.Move(id, HoldStatus.Committed, step);
                    pending.Remove((at, sequence, id));
                }
                else
                {
                    now = now.AddSeconds(random.Next(3));
                    while (table.TryTakeDue(now, out var due))
                    {
                        var expected = pending.Min;
                        Assert.True(expected.At <= now, $"seed {seed}: {due.ReservationId} taken before anything was due");
                        Assert.Equal(expected.Id, due.ReservationId);
                        table.Move(due.ReservationId, HoldStatus.Expired, step);
                        pending.Remove(expected);
                    }

                    Assert.True(pending.Count == 0 || pending.Min.At > now, $"seed {seed}: a due hold was left behind");
                }

                Assert.Equal(pending.Count == 0 ? null : pending.Min.At, table.NextExpiry);
            }
        }
    }
}
