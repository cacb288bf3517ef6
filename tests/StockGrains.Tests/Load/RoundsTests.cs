using StockGrains.LoadGenerator;

namespace StockGrains.Tests.Load;

public sealed class RoundsTests
{
    private static Dictionary<string, double> Ratios(params (string Name, double Value)[] ratios) =>
        ratios.ToDictionary(r => r.Name, r => r.Value);

    // Proves an odd number of rounds gives the middle round's ratio as the median, whatever order the rounds ran in.
    [Fact]
    public void The_median_of_an_odd_number_of_rounds_is_the_middle_one()
    {
        var summary = Rounds.Summarize([Ratios(("postgresRowLock", 31.5)), Ratios(("postgresRowLock", 22.0)), Ratios(("postgresRowLock", 26.1))]);
        Assert.Equal(new FigureSummary(26.1, 22.0, 31.5, 3), summary["postgresRowLock"]);
    }

    // Proves an even number of rounds gives the mean of the two middle ratios as the median.
    [Fact]
    public void The_median_of_an_even_number_of_rounds_is_the_mean_of_the_middle_two()
    {
        var summary = Rounds.Summarize([Ratios(("redisLua", 0.4)), Ratios(("redisLua", 0.7)), Ratios(("redisLua", 0.5)), Ratios(("redisLua", 0.6))]);
        Assert.Equal(0.55, summary["redisLua"].Median, 10);
        Assert.Equal((0.4, 0.7, 4), (summary["redisLua"].Min, summary["redisLua"].Max, summary["redisLua"].Rounds));
    }

    // Proves each baseline is summarised over the rounds that ran it only, so a round without one does not count as zero.
    [Fact]
    public void Each_ratio_is_summarised_over_the_rounds_that_have_it()
    {
        var summary = Rounds.Summarize([Ratios(("postgresRowLock", 30), ("redisLua", 0.5)), Ratios(("postgresRowLock", 20))]);
        Assert.Equal(["postgresRowLock", "redisLua"], summary.Keys);
        Assert.Equal(new FigureSummary(25, 20, 30, 2), summary["postgresRowLock"]);
        Assert.Equal(new FigureSummary(0.5, 0.5, 0.5, 1), summary["redisLua"]);
    }

    // Proves rounds that ran no baseline, or no rounds at all, summarise to no ratio rather than an invented one.
    [Fact]
    public void Rounds_without_ratios_summarise_to_nothing()
    {
        Assert.Empty(Rounds.Summarize([]));
        Assert.Empty(Rounds.Summarize([Ratios(), Ratios()]));
    }

    // Proves the half-peak p99 is summarised over the rounds that measured one, and is absent when none did.
    [Fact]
    public void The_half_peak_p99_is_summarised_over_the_rounds_that_measured_it()
    {
        Round At(int number, double? p99) => new(number, [], Ratios(), p99);
        Assert.Equal(new FigureSummary(9.5, 7.0, 12.0, 3), Rounds.HalfPeakSummary([At(1, 12.0), At(2, null), At(3, 7.0), At(4, 9.5)]));
        Assert.Null(Rounds.HalfPeakSummary([At(1, null)]));
    }
}
