using StockGrains.LoadGenerator;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Load;

/// <summary>Short runs of the load generator: they assert its invariant check, never its speed.</summary>
[Collection(nameof(Cluster.ClusterFaults))]
public sealed class LoadGeneratorTests
{
    // Proves a short flash sale that sells out holds every invariant: no more successes than stock, every acknowledgement durable, nothing below zero.
    [Fact]
    public async Task A_short_flash_sale_that_sells_out_holds_every_invariant()
    {
        var options = new LoadOptions { Scenario = "flash-sale", Callers = 32, Duration = TimeSpan.FromSeconds(2), Stock = 500 };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.Equal(500, report.Succeeded);
        Assert.True(report.Refused > 0, "the sale should have sold out");
    }

    // Proves a short uniform run over many SKUs, on PostgreSQL and against the row-lock baseline, holds every invariant.
    [Fact]
    public async Task A_short_uniform_run_on_postgres_with_its_baseline_holds_every_invariant()
    {
        var server = Environment.GetEnvironmentVariable(PostgresTestDatabase.Variable)
            ?? throw new InvalidOperationException($"Set {PostgresTestDatabase.Variable}, or run through tests/run-all.sh.");
        var options = new LoadOptions
        {
            Scenario = "uniform", Callers = 16, Duration = TimeSpan.FromSeconds(2), Stock = 3, Skus = 200, Store = "postgres",
            Connection = server, PostgresBaseline = true,
        };
        var reports = await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, reports.Count);
        Assert.All(reports, r => Assert.Empty(r.Violations));
        Assert.All(reports, r => Assert.True(r.Succeeded > 0));
    }

    // Proves a short run of multi-line orders allocated by a trade policy holds every invariant: each acknowledged order holds exactly its lines.
    [Fact]
    public async Task A_short_run_of_policy_orders_holds_every_invariant()
    {
        var options = new LoadOptions { Scenario = "orders", Callers = 16, Duration = TimeSpan.FromSeconds(2), Stock = 20, Skus = 5 };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.True(report.Succeeded > 0);
    }

    // Proves the open loop: a fixed arrival rate runs and holds every invariant.
    [Fact]
    public async Task An_open_loop_flash_sale_holds_every_invariant()
    {
        var options = new LoadOptions { Scenario = "flash-sale", Rate = 300, Duration = TimeSpan.FromSeconds(2), Stock = 100 };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.Equal(100, report.Succeeded);
        Assert.InRange(report.Succeeded + report.Refused + report.Failed, 400, 800);
    }

    // Proves the check has teeth: a deliberately broken server that skips the stock check is caught overselling.
    [Fact]
    public async Task The_invariant_check_catches_a_build_that_skips_the_stock_check()
    {
        var options = new LoadOptions { Scenario = "flash-sale", Callers = 16, Duration = TimeSpan.FromSeconds(2), Stock = 10, BrokenSkipStockCheck = true };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Contains(report.Violations, v => v.StartsWith("oversell", StringComparison.Ordinal));
    }

    // Proves bad arguments are refused with a clear message.
    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--callers", "0"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--scenario", "stampede"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--postgres-baseline"]));
        Assert.Equal(8, LoadOptions.Parse(["--callers", "8"]).Callers);
    }
}
