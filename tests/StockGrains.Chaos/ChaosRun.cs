using System.Diagnostics;

namespace StockGrains.Chaos;

/// <summary>
/// One chaos run: start PostgreSQL and the silos, seed stock, run the workload while the fault schedule plays, heal,
/// read everything back, check.
/// </summary>
public static class ChaosRun
{
    public static async Task<ChaosReport> RunAsync(ChaosOptions options, TextWriter output, CancellationToken cancellationToken = default)
    {
        var plan = Faults.Plan(options);
        output.WriteLine($"chaos seed {options.Seed}: {options.Silos} silos, {options.Workers} workers, {options.Duration.TotalSeconds:F0} s; " +
            $"{Faults.Describe(plan)}{(options.BrokenAcknowledgeBeforeDurable ? "; BROKEN: ack before durable" : "")}" +
            $"{(options.BrokenFreshRetryIds ? "; BROKEN: fresh retry ids" : "")}");
        await using var cluster = await Cluster.StartAsync(options.Silos, options.BrokenAcknowledgeBeforeDurable);
        var history = new History();
        var clock = Stopwatch.StartNew();
        var workload = new Workload(cluster, history, options, clock);
        await workload.SeedStockAsync();

        clock.Restart();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        stop.CancelAfter(options.Duration);
        var faults = new Faults(cluster, history, clock).RunAsync(plan, cancellationToken);
        await workload.RunAsync(stop.Token);
        await faults;
        output.WriteLine($"workload done after {clock.Elapsed.TotalSeconds:F0} s; {history.Faults.Count} faults injected; healing");

        await cluster.HealAsync();
        var reader = cluster[0]!.Http;
        var final = await Checker.ReadAsync(reader, Workload.Lines,
            history.Attempts.Where(a => a.Kind == "reserve").Select(a => a.Id));
        if (options.HistoryPath is { } path)
        {
            await history.WriteAsync(path);
            output.WriteLine($"history: {path}");
        }

        var report = Checker.Check(options.Seed, history.Attempts, final);
        output.WriteLine(report);
        return report;
    }
}
