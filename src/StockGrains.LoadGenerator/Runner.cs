using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StockGrains.Grains.Storage;
using StockGrains.Server.Hosting;
using StockGrains.Stock;

namespace StockGrains.LoadGenerator;

/// <summary>
/// Runs one workload against an embedded StockGrains server (through the Orleans client it hosts) and, when asked,
/// against PostgreSQL's conditional UPDATE, then checks the invariants of each run.
/// </summary>
public sealed class Runner(LoadOptions options, TextWriter output)
{
    /// <summary>A fresh key per run for the embedded server's one client.</summary>
    private static readonly string ApiKey = StockGrains.Server.Security.ApiKeys.NewKey();

    public async Task<IReadOnlyList<Report>> RunAsync(CancellationToken cancellationToken = default)
    {
        var reports = new List<Report> { await RunStockGrainsAsync(cancellationToken) };
        output.WriteLine(reports[^1]);
        if (options.PostgresBaseline)
        {
            reports.Add(await RunPostgresBaselineAsync(cancellationToken));
            output.WriteLine(reports[^1]);
            output.WriteLine($"StockGrains / PostgreSQL row lock: {reports[0].PerSecond / Math.Max(1, reports[1].PerSecond):F1}x");
        }

        return reports;
    }

    private string[] Skus() => options.Scenario == "flash-sale" ? ["hot"] : Enumerable.Range(0, options.Skus).Select(i => $"sku-{i}").ToArray();

    private async Task<Report> RunStockGrainsAsync(CancellationToken cancellationToken)
    {
        var directory = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), $"stockgrains-load-{Guid.NewGuid():N}")).FullName;
        List<string> args =
        [
            $"--StockGrains:DataDirectory={directory}",
            "--Kestrel:Endpoints:Http:Url=http://127.0.0.1:0",
            $"--StockGrains:SiloPort={Random.Shared.Next(20_000, 25_000)}",
            $"--StockGrains:GatewayPort={Random.Shared.Next(25_000, 30_000)}",
            "--Logging:LogLevel:Default=Warning",
            $"--StockGrains:StockLine:UnsafeSkipStockCheck={options.BrokenSkipStockCheck}",

            // The embedded server runs as production does, so it needs a client; the load itself goes through the Orleans client.
            "--StockGrains:Auth:Clients:loadgen:Roles:0=checkout",
            "--StockGrains:Auth:Clients:loadgen:Roles:1=operator",
            "--StockGrains:Auth:Clients:loadgen:Roles:2=auditor",
            "--StockGrains:Auth:Clients:loadgen:Warehouses:0=*",
            $"--StockGrains:Auth:Clients:loadgen:KeyHashes:0={StockGrains.Server.Security.ApiKeys.Hash(ApiKey)}",
        ];
        if (options.Store == "postgres")
        {
            args.AddRange(["--StockGrains:Store=PostgreSql", $"--StockGrains:ConnectionString={await FreshDatabaseAsync(cancellationToken)}"]);
        }

        await using var app = StockGrainsHost.Build([.. args]);
        await app.StartAsync(cancellationToken);
        var grains = app.Services.GetRequiredService<IGrainFactory>();
        var store = app.Services.GetRequiredService<ILedgerStore>();
        if (options.Scenario == "orders")
        {
            var report = await RunOrdersAsync(grains, store, cancellationToken);
            await app.StopAsync(cancellationToken);
            return report;
        }

        var skus = Skus();
        var lines = skus.Select(sku => grains.GetGrain<IStockLineGrain>($"w1/{sku}")).ToArray();
        await Parallel.ForEachAsync(lines, cancellationToken, async (line, _) => await line.ReceiveAsync(new ReceiveCommand("stock", options.Stock, "load")));

        var acknowledged = new ConcurrentBag<(int Line, string Id)>();
        var appends = store.Counters.Appends;
        var entries = store.Counters.Entries;
        var expiresAt = DateTimeOffset.UtcNow.AddHours(1);
        var (recorder, seconds) = await FireAsync(async (caller, n, random) =>
        {
            var index = random.Next(lines.Length);
            var id = $"c{caller}-{n}";
            var result = await lines[index].ReserveAsync(new ReserveCommand(id, 1, expiresAt, "load"));
            var ok = result.Outcome == StockLineOutcome.Reserved;
            if (ok)
            {
                acknowledged.Add((index, id));
            }

            return ok;
        }, cancellationToken);
        var perAppend = (store.Counters.Entries - entries) / (double)Math.Max(1, store.Counters.Appends - appends);

        var violations = await CheckStockGrainsAsync(store, skus, acknowledged);
        await app.StopAsync(cancellationToken);
        return Report.From($"StockGrains ({options.Store})", recorder, seconds, perAppend, violations);
    }

    /// <summary>
    /// The invariants, read back from the durable ledger: no more successes than stock, every acknowledged
    /// reservation present, no entry below zero.
    /// </summary>
    private async Task<IReadOnlyList<string>> CheckStockGrainsAsync(ILedgerStore store, string[] skus, ConcurrentBag<(int Line, string Id)> acknowledged)
    {
        var violations = new List<string>();
        var byLine = acknowledged.GroupBy(a => a.Line).ToDictionary(g => g.Key, g => g.Select(a => a.Id).ToList());
        for (var i = 0; i < skus.Length; i++)
        {
            var acked = byLine.GetValueOrDefault(i) ?? [];
            if (acked.Count > options.Stock)
            {
                violations.Add($"oversell on {skus[i]}: {acked.Count} reservations for {options.Stock} units");
            }

            var reserved = new HashSet<string>();
            var belowZero = false;
            for (long after = 0; ;)
            {
                var page = await store.ReadAsync($"w1/{skus[i]}", after, 1_000);
                foreach (var entry in page)
                {
                    belowZero |= entry.OnHandAfter - entry.ReservedAfter < 0;
                    if (entry.Kind == LedgerEntryKind.Reserved)
                    {
                        reserved.Add(entry.ReservationId!);
                    }
                }

                if (page.Count < 1_000)
                {
                    break;
                }

                after = page[^1].Sequence;
            }

            var lost = acked.Count(id => !reserved.Contains(id));
            if (lost > 0)
            {
                violations.Add($"{lost} acknowledged reservations of {skus[i]} are not in the ledger");
            }

            if (belowZero)
            {
                violations.Add($"{skus[i]} went below zero");
            }
        }

        return violations;
    }

    /// <summary>The same workload as one conditional UPDATE per reservation: the row lock most shops rely on.</summary>
    private async Task<Report> RunPostgresBaselineAsync(CancellationToken cancellationToken)
    {
        await using var source = NpgsqlDataSource.Create(await FreshDatabaseAsync(cancellationToken));
        await using (var setup = source.CreateCommand(
            "CREATE TABLE baseline_stock (sku text PRIMARY KEY, on_hand bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0 CHECK (reserved <= on_hand))"))
        {
            await setup.ExecuteNonQueryAsync(cancellationToken);
        }

        var skus = Skus();
        await using (var insert = source.CreateCommand("INSERT INTO baseline_stock (sku, on_hand) SELECT unnest(@skus), @stock"))
        {
            insert.Parameters.AddWithValue("skus", skus);
            insert.Parameters.AddWithValue("stock", options.Stock);
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        var (recorder, seconds) = await FireAsync(async (_, _, random) =>
        {
            await using var update = source.CreateCommand("UPDATE baseline_stock SET reserved = reserved + 1 WHERE sku = @sku AND on_hand - reserved >= 1");
            update.Parameters.AddWithValue("sku", skus[random.Next(skus.Length)]);
            return await update.ExecuteNonQueryAsync(cancellationToken) == 1;
        }, cancellationToken);

        var violations = new List<string>();
        await using (var check = source.CreateCommand("SELECT COALESCE(SUM(reserved), 0), COUNT(*) FILTER (WHERE reserved > on_hand) FROM baseline_stock"))
        await using (var reader = await check.ExecuteReaderAsync(cancellationToken))
        {
            await reader.ReadAsync(cancellationToken);
            if (reader.GetInt64(0) != recorder.Succeeded)
            {
                violations.Add($"{recorder.Succeeded} acknowledged, {reader.GetInt64(0)} reserved");
            }

            if (reader.GetInt64(1) > 0)
            {
                violations.Add("oversell");
            }
        }

        return Report.From("PostgreSQL conditional UPDATE", recorder, seconds, 0, violations);
    }

    private static readonly string[] OrderWarehouses = ["w1", "w2", "w3"];

    /// <summary>
    /// Orders of one to three lines, each line allocated by a trade policy across three warehouses. The check reads
    /// every line's ledger: each acknowledged order holds exactly the lines it was told it holds, and no line is below zero.
    /// </summary>
    private async Task<Report> RunOrdersAsync(IGrainFactory grains, ILedgerStore store, CancellationToken cancellationToken)
    {
        var skus = Enumerable.Range(0, options.Skus).Select(i => $"sku-{i}").ToArray();
        await grains.GetGrain<StockGrains.TradePolicies.ITradePolicyGrain>("load").DefineAsync(OrderWarehouses, StockGrains.TradePolicies.AllocationStrategy.MostAvailable);
        await Parallel.ForEachAsync(skus.SelectMany(sku => OrderWarehouses.Select(w => $"{w}/{sku}")), cancellationToken,
            async (line, _) => await grains.GetGrain<IStockLineGrain>(line).ReceiveAsync(new ReceiveCommand("stock", options.Stock, "load")));

        // The read model guides allocation: wait (bounded) until it has seen the stock.
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var seen = await Task.WhenAll(skus.Select(sku => grains.GetGrain<StockGrains.TradePolicies.ISkuAvailabilityGrain>(sku).GetAsync(OrderWarehouses)));
            if (seen.All(w => w.Sum(a => a.Contributes) == options.Stock * OrderWarehouses.Length))
            {
                break;
            }

            await Task.Delay(50, cancellationToken);
        }

        var acknowledged = new ConcurrentBag<StockGrains.Reservations.ReservationView>();
        var (recorder, seconds) = await FireAsync(async (caller, n, random) =>
        {
            var lines = skus.OrderBy(_ => random.Next()).Take(random.Next(1, 4))
                .Select(sku => new StockGrains.Reservations.ReservationLineRequest(sku, null, 1)).ToList();
            var result = await grains.GetGrain<StockGrains.Reservations.IReservationGrain>($"o{caller}-{n}")
                .PlaceAsync(new StockGrains.Reservations.PlaceReservation(lines, 3600, "load", "load"));
            var ok = result.Outcome == StockGrains.Reservations.ReservationOutcome.Placed;
            if (ok)
            {
                acknowledged.Add(result.Reservation!);
            }

            return ok;
        }, cancellationToken);

        var violations = new List<string>();
        var expected = acknowledged.SelectMany(o => o.Lines.Select(l => ($"{l.Warehouse}/{l.Sku}", o.ReservationId, l.Quantity)))
            .GroupBy(x => x.Item1).ToDictionary(g => g.Key, g => g.ToDictionary(x => x.ReservationId, x => x.Quantity));
        foreach (var line in skus.SelectMany(sku => OrderWarehouses.Select(w => $"{w}/{sku}")))
        {
            var held = new Dictionary<string, long>();
            var belowZero = false;
            for (long after = 0; ;)
            {
                var page = await store.ReadAsync(line, after, 1_000, cancellationToken);
                foreach (var entry in page)
                {
                    belowZero |= entry.OnHandAfter - entry.ReservedAfter < 0;
                    if (entry.Kind == LedgerEntryKind.Reserved)
                    {
                        held[entry.ReservationId!] = entry.Quantity;
                    }
                    else if (entry.Kind is LedgerEntryKind.Released or LedgerEntryKind.Expired)
                    {
                        held.Remove(entry.ReservationId!);
                    }
                }

                if (page.Count < 1_000)
                {
                    break;
                }

                after = page[^1].Sequence;
            }

            var want = expected.GetValueOrDefault(line) ?? [];
            if (want.Any(w => !held.TryGetValue(w.Key, out var q) || q != w.Value) || held.Keys.Any(k => !want.ContainsKey(k)))
            {
                violations.Add($"{line}: the holds in the ledger differ from the acknowledged orders");
            }

            if (belowZero)
            {
                violations.Add($"{line} went below zero");
            }
        }

        return Report.From($"StockGrains orders ({options.Store})", recorder, seconds, 0, violations);
    }

    /// <summary>
    /// Fires the workload: closed loop (every caller sends its next request when the last one is answered), or open
    /// loop at <see cref="LoadOptions.Rate"/> arrivals per second with latency from each arrival's scheduled time.
    /// </summary>
    private Task<(Recorder Recorder, double Seconds)> FireAsync(Func<int, int, Random, Task<bool>> call, CancellationToken cancellationToken) =>
        options.Rate > 0 ? FireOpenAsync(call, cancellationToken) : FireClosedAsync(call, cancellationToken);

    private async Task<(Recorder Recorder, double Seconds)> FireOpenAsync(Func<int, int, Random, Task<bool>> call, CancellationToken cancellationToken)
    {
        // Arrivals beyond this many unanswered requests are counted as failed rather than queued without bound.
        const int MaxOutstanding = 100_000;
        var recorder = new Recorder();
        var random = new Random(1);
        var started = Stopwatch.GetTimestamp();
        var interval = Stopwatch.Frequency / (double)options.Rate;
        var outstanding = new List<Task>();
        var inFlight = 0;
        for (var n = 0; Stopwatch.GetElapsedTime(started) < options.Duration && !cancellationToken.IsCancellationRequested; n++)
        {
            var scheduled = started + (long)(n * interval);
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken);
            }

            if (Volatile.Read(ref inFlight) >= MaxOutstanding)
            {
                recorder.Record(Stopwatch.GetElapsedTime(scheduled).Ticks, null);
                continue;
            }

            var number = n;
            var seed = random.Next();
            Interlocked.Increment(ref inFlight);
            outstanding.Add(Task.Run(async () =>
            {
                bool? outcome;
                try
                {
                    outcome = await call(number % options.Callers, number, new Random(seed));
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    outcome = null;
                }

                recorder.Record(Stopwatch.GetElapsedTime(scheduled).Ticks, outcome);
                Interlocked.Decrement(ref inFlight);
            }, cancellationToken));
        }

        await Task.WhenAll(outstanding);
        return (recorder, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private async Task<(Recorder Recorder, double Seconds)> FireClosedAsync(Func<int, int, Random, Task<bool>> call, CancellationToken cancellationToken)
    {
        var recorder = new Recorder();
        var started = Stopwatch.GetTimestamp();
        await Task.WhenAll(Enumerable.Range(0, options.Callers).Select(caller => Task.Run(async () =>
        {
            var random = new Random(caller);
            for (var n = 0; Stopwatch.GetElapsedTime(started) < options.Duration && !cancellationToken.IsCancellationRequested; n++)
            {
                var before = Stopwatch.GetTimestamp();
                bool? outcome;
                try
                {
                    outcome = await call(caller, n, random);
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    outcome = null;
                }

                recorder.Record(Stopwatch.GetElapsedTime(before).Ticks, outcome);
            }
        }, cancellationToken)));
        return (recorder, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private async Task<string> FreshDatabaseAsync(CancellationToken cancellationToken)
    {
        var name = $"load_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(options.Connection))
        {
            await connection.OpenAsync(cancellationToken);
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync(cancellationToken);
        }

        return new NpgsqlConnectionStringBuilder(options.Connection) { Database = name }.ConnectionString;
    }
}
