using StockGrains.Chaos;

namespace StockGrains.Tests.Chaos;

/// <summary>
/// The short chaos run against PostgreSQL and three real silo processes, with every kind of fault, and its negative
/// controls: a checker that passes a broken build is broken. Serial with the other cluster tests, as they all load the
/// two cores.
/// </summary>
[Collection("ClusterFaults")]
public sealed class ChaosRunTests(ITestOutputHelper output)
{
    private sealed class Output(ITestOutputHelper helper) : TextWriter
    {
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void WriteLine(string? value) => helper.WriteLine(value ?? "");
    }

    // Proves that under SIGKILL, SIGSTOP (a zombie silo), a database crash and a rolling restart, every count is 0.
    [Fact]
    public async Task A_short_chaos_run_with_every_fault_finds_no_violation()
    {
        var options = new ChaosOptions { Seed = 20261122, Silos = 3, Workers = 6, Duration = TimeSpan.FromSeconds(30) };
        var report = await ChaosRun.RunAsync(options, new Output(output), TestContext.Current.CancellationToken);
        Assert.True(report.Clean, report.ToString());
        Assert.True(report.Operations > 200, $"the workload should have done real work: {report.Operations} operations");
        Assert.True(report.UnknownOutcomes > 0, "the faults should have left some outcomes unknown, and the retries resolved them");
    }

    // Proves the checker catches a server that answers before the append is durable, once a crash loses what it answered.
    [Fact]
    public async Task The_checker_flags_acknowledgements_made_before_durability()
    {
        // Two kills, the second in the middle of the run: the first comes a tenth of the way in, and on a machine busy
        // with the rest of the suite the workers may not yet have an answer in the broken build's window when it lands.
        var options = new ChaosOptions
        {
            Seed = 12, Silos = 1, Workers = 6, Duration = TimeSpan.FromSeconds(12), Faults = ["kill", "kill"], BrokenAcknowledgeBeforeDurable = true,
        };
        var report = await ChaosRun.RunAsync(options, new Output(output), TestContext.Current.CancellationToken);
        Assert.True(report.AcknowledgedButLost > 0, report.ToString());
    }

    // Proves the checker catches a client that retries with fresh ids: a lost answer then doubles the operation.
    [Fact]
    public async Task The_checker_flags_retries_with_fresh_ids()
    {
        var options = new ChaosOptions
        {
            Seed = 11, Silos = 1, Workers = 6, Duration = TimeSpan.FromSeconds(10), Faults = [], LoseResponses = 0.1, BrokenFreshRetryIds = true,
        };
        var report = await ChaosRun.RunAsync(options, new Output(output), TestContext.Current.CancellationToken);
        Assert.True(report.DuplicateEffects > 0, report.ToString());
    }
}
