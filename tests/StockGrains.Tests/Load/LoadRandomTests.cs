using StockGrains.LoadGenerator;

namespace StockGrains.Tests.Load;

public sealed class LoadRandomTests
{
    // Proves a run is repeatable: one seed draws one sequence, and another seed a different one.
    [Fact]
    public void The_same_seed_draws_the_same_numbers_and_another_seed_others()
    {
        static int[] Draw(ulong seed)
        {
            var random = new LoadRandom(seed);
            return Enumerable.Range(0, 100).Select(_ => random.Next(1_000_000)).ToArray();
        }

        Assert.Equal(Draw(42), Draw(42));
        Assert.NotEqual(Draw(42), Draw(43));
    }

    // Proves the SKU picks cover the range evenly and never leave it, so a uniform scenario loads every SKU alike.
    [Fact]
    public void Picks_stay_in_their_range_and_fall_evenly_across_it()
    {
        var random = new LoadRandom(7);
        var counts = new int[7];
        for (var i = 0; i < 70_000; i++)
        {
            counts[random.Next(7)]++;
        }

        Assert.All(counts, c => Assert.InRange(c, 9_000, 11_000));
        Assert.All(Enumerable.Range(0, 1_000).Select(_ => random.Next(1, 4)), n => Assert.InRange(n, 1, 3));
        Assert.All(Enumerable.Range(0, 1_000).Select(_ => random.Next()), n => Assert.True(n >= 0));
    }

    // Proves an order's SKUs are distinct and inside the range, that every SKU can be picked, and that asking for more
    // distinct picks than the range holds is refused rather than left to loop forever.
    [Fact]
    public void Distinct_picks_never_repeat_and_reach_the_whole_range()
    {
        var random = new LoadRandom(11);
        var seen = new HashSet<int>();
        var picked = new int[3];
        for (var i = 0; i < 2_000; i++)
        {
            random.NextDistinct(10, picked);
            Assert.Equal(3, picked.Distinct().Count());
            Assert.All(picked, n => Assert.InRange(n, 0, 9));
            seen.UnionWith(picked);
        }

        Assert.Equal(10, seen.Count);

        var all = new int[4];
        random.NextDistinct(4, all);
        Assert.Equal([0, 1, 2, 3], all.Order());
        Assert.Throws<ArgumentOutOfRangeException>(() => random.NextDistinct(2, new int[3]));
    }

    // Proves an empty range is refused rather than answered with a number outside it.
    [Fact]
    public void An_empty_range_is_refused()
    {
        var random = new LoadRandom(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => random.Next(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => random.Next(5, 5));
    }
}
