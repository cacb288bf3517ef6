using System.Diagnostics;
using StockGrains.Stock;

namespace StockGrains.LoadGenerator;

/// <summary>What activating many lines costs: memory per active line, activation rate, and that idle lines go.</summary>
public sealed record ActivationReport(
    int Lines,
    double SecondsToCreate,
    long BytesPerActiveLine,
    int Reactivated,
    double ReactivationsPerSecond,
    double MeanReactivationMs,
    long BytesAfterDeactivation,
    IReadOnlyList<string> Violations)
{
    public override string ToString() =>
        $"activation: {Lines:N0} lines created in {SecondsToCreate:F1} s; {BytesPerActiveLine:N0} bytes per active line (one receipt, one hold); " +
        $"{Reactivated:N0} re-activated from snapshot + ledger tail at {ReactivationsPerSecond:N0}/s (mean {MeanReactivationMs:F2} ms); " +
        $"after deactivating every idle line the heap is {BytesAfterDeactivation / 1_048_576.0:N0} MiB; " +
        $"invariants: {(Violations.Count == 0 ? "OK" : string.Join("; ", Violations))}";
}

/// <summary>
/// The memory and activation scenario: creates <see cref="LoadOptions.Skus"/> lines (1,000 warehouses per SKU, the
/// shape of a large catalogue), each with a receipt and a hold, measures the managed heap per active line, forces
/// every idle line to deactivate, then re-activates a sample and times it.
/// </summary>
public static class Activation
{
    private const int WarehousesPerSku = 1_000;
    private const int Concurrency = 64;

    /// <summary>At most this many lines are re-activated and timed: enough for a stable mean.</summary>
    private const int ReactivationSample = 20_000;

    public static async Task<ActivationReport> RunAsync(LoadOptions options, TextWriter output, CancellationToken cancellationToken = default)
    {
        await using var server = await EmbeddedServer.StartAsync(options, $"act{Guid.NewGuid():N}"[..10], cancellationToken);
        var grains = server.Grains;
        var store = server.Store;
        var lines = Enumerable.Range(0, options.Skus).Select(i => $"w{i % WarehousesPerSku}/sku-{i / WarehousesPerSku}").ToArray();
        var expiresAt = DateTimeOffset.UtcNow.AddHours(1);

        var before = Heap();
        var clock = Stopwatch.StartNew();
        var done = 0;
        await Parallel.ForEachAsync(lines, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken }, async (key, _) =>
        {
            var line = grains.GetGrain<IStockLineGrain>(key);
            await line.ReceiveAsync(new ReceiveCommand($"in-{key}", 10, "load"));
            await line.ReserveAsync(new ReserveCommand($"hold-{key}", 1, expiresAt, "load"));
            if (Interlocked.Increment(ref done) % 50_000 == 0)
            {
                output.WriteLine($"  {done:N0} lines active, {clock.Elapsed.TotalSeconds:F0} s");
            }
        });
        var created = clock.Elapsed.TotalSeconds;
        var perLine = (Heap() - before) / Math.Max(1, lines.Length);

        // Idle lines go: collect every activation idle for more than a second, as the silo does after its collection age.
        var management = grains.GetGrain<IManagementGrain>(0);
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        await management.ForceActivationCollection(TimeSpan.FromSeconds(1));
        var afterDeactivation = Heap();

        var sample = lines.Take(ReactivationSample).ToArray();
        var violations = new List<string>();
        clock.Restart();
        var totalMs = 0L;
        await Parallel.ForEachAsync(sample, new ParallelOptions { MaxDegreeOfParallelism = Concurrency, CancellationToken = cancellationToken }, async (key, _) =>
        {
            var started = Stopwatch.GetTimestamp();
            var view = await grains.GetGrain<IStockLineGrain>(key).GetAsync();
            Interlocked.Add(ref totalMs, (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
            if (view.OnHand != 10 || view.Reserved != 1 || view.Sequence != 2)
            {
                lock (violations)
                {
                    violations.Add($"{key} re-activated as on hand {view.OnHand}, reserved {view.Reserved}, sequence {view.Sequence}");
                }
            }
        });
        var seconds = clock.Elapsed.TotalSeconds;
        var ledger = await store.ReadAsync(lines[^1], 0, 10, cancellationToken);
        if (ledger.Count != 2)
        {
            violations.Add($"{lines[^1]} has {ledger.Count} ledger entries, not 2");
        }

        return new ActivationReport(lines.Length, created, perLine, sample.Length, sample.Length / seconds, totalMs / 1000.0 / sample.Length,
            afterDeactivation, violations.Take(10).ToList());
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
