using System.Collections.Concurrent;
using System.Diagnostics;
using Npgsql;
using StockGrains.Grains.Storage;
using StockGrains.Grains.TradePolicies;
using StockGrains.Stock;

namespace StockGrains.LoadGenerator;

/// <summary>
/// Runs one workload against StockGrains — through the embedded server's grain factory, a separate Orleans client or
/// the HTTP API — and, when asked, against PostgreSQL's conditional UPDATE and a Redis Lua script, then checks the
/// invariants of each run.
/// </summary>
public sealed class Runner(LoadOptions options, TextWriter output, TextWriter? progress = null)
{
    /// <summary>The warehouse of the line scenarios.</summary>
    private const string Warehouse = "w1";

    private static readonly string[] OrderWarehouses = ["w1", "w2", "w3"];

    /// <summary>Set-up and check calls in flight at once: enough for receipts to commit in groups, few enough to be polite to a shared server.</summary>
    private const int SetupParallelism = 32;

    /// <summary>
    /// Prefixes every SKU, reservation and trade policy of this run, so that a run against an external server that
    /// has seen earlier runs touches only what it created itself.
    /// </summary>
    private readonly string _run = $"lg{Guid.NewGuid():N}"[..10];

    /// <summary>
    /// StockGrains' throughput over each baseline's, by baseline: <c>postgresRowLock</c> and <c>redisLua</c>, or for
    /// reads <c>postgresSelect</c> and <c>redisMget</c>.
    /// </summary>
    public IReadOnlyDictionary<string, double> Ratios { get; private set; } = new Dictionary<string, double>();

    /// <summary>With <see cref="LoadOptions.HalfPeak"/>: the open loop at half of the peak just measured.</summary>
    public Report? HalfPeak { get; private set; }

    public async Task<IReadOnlyList<Report>> RunAsync(CancellationToken cancellationToken = default)
    {
        var reports = new List<Report> { await RunStockGrainsAsync(cancellationToken) };
        output.WriteLine(reports[0]);
        if (options.HalfPeak)
        {
            // A server of its own, like every run, and no baselines: their figures compare with the peak.
            var rate = (int)Math.Clamp(Math.Round(reports[0].PerSecond / 2), 1, 1_000_000);
            output.WriteLine($"half of peak: an open loop at {rate:N0} arrivals/s");
            var half = new Runner(options with { Rate = rate, HalfPeak = false, PostgresBaseline = false, RedisBaseline = false }, output, progress);
            HalfPeak = (await half.RunAsync(cancellationToken))[0];
            reports.Add(HalfPeak);
            output.WriteLine($"p99 at half of peak: {HalfPeak.P99Ms:F2} ms");
        }

        var ratios = new Dictionary<string, double>();
        var reads = options.Scenario == "reads";
        if (options.PostgresBaseline)
        {
            reports.Add(reads ? await RunPostgresReadsAsync(cancellationToken) : await RunPostgresBaselineAsync(cancellationToken));
            output.WriteLine(reports[^1]);
            ratios[reads ? "postgresSelect" : "postgresRowLock"] = reports[0].PerSecond / Math.Max(1, reports[^1].PerSecond);
        }

        if (options.RedisBaseline)
        {
            Header(reads ? RedisBaseline.ReadsName : RedisBaseline.Name);
            reports.Add(reads
                ? await RedisBaseline.RunReadsAsync(options, _run, Skus()[0], OrderWarehouses, progress, cancellationToken)
                : await RedisBaseline.RunAsync(options, _run, Skus(), progress, cancellationToken));
            output.WriteLine(reports[^1]);
            ratios[reads ? "redisMget" : "redisLua"] = reports[0].PerSecond / Math.Max(1, reports[^1].PerSecond);
        }

        // The row lock (or SELECT) first and Redis second, whatever order the dictionary keeps.
        foreach (var name in (string[])["postgresRowLock", "postgresSelect", "redisLua", "redisMget"])
        {
            if (ratios.TryGetValue(name, out var ratio))
            {
                output.WriteLine($"{Rounds.Label(name)}: {ratio:F1}x");
            }
        }

        Ratios = ratios;
        return reports;
    }

    /// <summary>The id of request <paramref name="number"/> of <paramref name="caller"/>: unique within the run, and within the ledger across runs.</summary>
    private string ReservationId(int caller, int number) => $"{_run}-{caller}-{number}";

    /// <summary>An acknowledged reservation as the run records it: its line's index and what its id is made from.</summary>
    private readonly record struct Acknowledged(int Line, int Caller, int Number);

    /// <summary>The ids of <paramref name="recorded"/>, made again, by the index of their line.</summary>
    private Dictionary<int, List<string>> IdsByLine(IEnumerable<Acknowledged> recorded) =>
        recorded.GroupBy(a => a.Line).ToDictionary(g => g.Key, g => g.Select(a => ReservationId(a.Caller, a.Number)).ToList());

    private string[] Skus() => options.Scenario is "flash-sale" or "reads"
        ? [$"{_run}-hot"]
        : Enumerable.Range(0, options.Skus).Select(i => $"{_run}-{i}").ToArray();

    private void Header(string target) => progress?.WriteLine($"{target}:");

    /// <summary>
    /// Starts what the target needs (the embedded server, an Orleans client, an HTTP client), runs the scenario
    /// through it, and sets up and checks through the embedded server's own grains and store where there is one.
    /// </summary>
    private async Task<Report> RunStockGrainsAsync(CancellationToken cancellationToken)
    {
        await using var server = options.Embedded ? await EmbeddedServer.StartAsync(options, _run, cancellationToken) : null;
        await using var client = options.Target == "orleans"
            ? await OrleansClient.ConnectAsync(
                server?.GatewayPort ?? options.Gateway!.Value,
                server is null ? options.Connection : server.DatabaseConnection,
                server is null ? options.ServiceId : EmbeddedServer.ServiceId,
                server?.ClusterId ?? options.ClusterId,
                cancellationToken)
            : null;
        using var http = options.Target == "http"
            ? new HttpTarget(options.Url ?? server!.Address, server?.ApiKey ?? options.ApiKey, options.Callers)
            : null;
        IStockTarget target = (IStockTarget?)http ?? new GrainTarget(client?.Grains ?? server!.Grains, client is null ? server?.Store : null);
        var admin = server is null ? target : new GrainTarget(server.Grains, server.Store);

        var where = server is null ? "external" : options.Store;
        var name = options.Target == "embedded" && options.EffectiveVia == "lines" && options.Scenario != "orders"
            ? $"StockGrains ({where})"
            : $"StockGrains {options.Target} {options.EffectiveVia} ({where})";
        Header(name);
        // The database behind the server, when it is a PostgreSQL on this machine, has its processor time reported too.
        await using var database = (server is null ? options.Connection : server.DatabaseConnection) is { } connection
            ? NpgsqlDataSource.Create(connection)
            : null;
        var serverCpu = database is null ? null : await ServerCpu.PostgresAsync(database, cancellationToken);
        var appends = server?.Store.Counters.Appends ?? 0;
        var entries = server?.Store.Counters.Entries ?? 0;
        var transactions = server?.Store.Counters.Transactions ?? 0;
        var (recorder, seconds, violations, notes) = options.Scenario switch
        {
            "orders" => await RunOrdersAsync(target, admin, serverCpu, cancellationToken),
            "reads" => await RunReadsAsync(target, admin, server?.Store.Counters, serverCpu, cancellationToken),
            _ => await RunLinesAsync(target, admin, serverCpu, cancellationToken),
        };
        // Reads write nothing: what the counters moved by was the set-up's receipts.
        var (perAppend, perTransaction) = server is not null && options.Scenario != "reads"
            ? ((server.Store.Counters.Entries - entries) / (double)Math.Max(1, server.Store.Counters.Appends - appends),
                (server.Store.Counters.Entries - entries) / (double)Math.Max(1, server.Store.Counters.Transactions - transactions))
            : (0, 0);
        return Report.From(name, recorder, seconds, perAppend, violations, notes) with { EntriesPerTransaction = perTransaction };
    }

    /// <summary>One unit per request on one hot SKU, or on SKUs picked uniformly; on the line, or as a one-line order.</summary>
    private async Task<(Recorder, double, IReadOnlyList<string>, IReadOnlyList<string>)> RunLinesAsync(
        IStockTarget target, IStockTarget admin, ServerCpu? serverCpu, CancellationToken cancellationToken)
    {
        var skus = Skus();
        await Parallel.ForEachAsync(skus, Setup(cancellationToken), async (sku, token) =>
            await admin.ReceiveAsync(Warehouse, sku, options.Stock, $"{_run}-stock-{sku}", token));

        // What was acknowledged is kept as numbers, and each id is made again for the check: the run's own record of
        // hundreds of thousands of ids would otherwise be that many long-lived strings in the silo's heap (the embedded
        // server shares this process), promoted and copied by the collections whose pauses the run is measuring.
        var acknowledged = new ConcurrentBag<Acknowledged>();
        var shipments = new ConcurrentBag<Acknowledged>();
        var orders = options.EffectiveVia == "orders";
        var (recorder, seconds) = await Load.FireAsync(options, progress, serverCpu, async (caller, n, random) =>
        {
            var index = random.Next(skus.Length);
            var id = ReservationId(caller, n);
            var ok = orders
                ? await target.PlaceAsync(id, [new OrderLine(skus[index], Warehouse, 1)], null, cancellationToken) is not null
                : await target.ReserveLineAsync(Warehouse, skus[index], id, cancellationToken);
            if (ok)
            {
                acknowledged.Add(new Acknowledged(index, caller, n));
                if (options.Commits)
                {
                    await (orders
                        ? target.FinishOrderAsync(id, options.Ships, cancellationToken)
                        : target.FinishHoldAsync(Warehouse, skus[index], id, options.Ships, cancellationToken));
                    if (options.Ships)
                    {
                        shipments.Add(new Acknowledged(index, caller, n));
                    }
                }
            }

            return ok;
        }, cancellationToken);

        var byLine = IdsByLine(acknowledged);
        var shippedByLine = IdsByLine(shipments);
        var violations = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(Enumerable.Range(0, skus.Length), Setup(cancellationToken), async (i, token) =>
        {
            var acked = byLine.GetValueOrDefault(i) ?? [];
            if (acked.Count > options.Stock)
            {
                violations.Add($"oversell on {skus[i]}: {acked.Count} reservations for {options.Stock} units");
            }

            var (held, problems, shipped) = await ReadLineAsync(admin, Warehouse, skus[i], token);
            foreach (var problem in problems)
            {
                violations.Add(problem);
            }

            var lost = acked.Count(id => !held.ContainsKey(id));
            if (lost > 0)
            {
                violations.Add($"{lost} acknowledged reservations of {skus[i]} are not in the ledger");
            }

            if ((shippedByLine.GetValueOrDefault(i) ?? []).Count(id => !shipped.Contains(id)) is var unshipped and > 0)
            {
                violations.Add($"{unshipped} acknowledged shipments of {skus[i]} are not in the ledger");
            }
        });

        return (recorder, seconds, violations.ToList(), []);
    }

    /// <summary>
    /// Orders of one to three lines, each line allocated by a trade policy across three warehouses. The check reads
    /// every line's ledger: each acknowledged order holds exactly the lines it was told it holds, and no line is below zero.
    /// </summary>
    private async Task<(Recorder, double, IReadOnlyList<string>, IReadOnlyList<string>)> RunOrdersAsync(
        IStockTarget target, IStockTarget admin, ServerCpu? serverCpu, CancellationToken cancellationToken)
    {
        var skus = Enumerable.Range(0, options.Skus).Select(i => $"{_run}-{i}").ToArray();
        var policy = _run;

        // The read model guides allocation.
        await StockPolicyAsync(admin, skus, policy, cancellationToken);

        var acknowledged = new ConcurrentBag<(string Id, IReadOnlyList<HeldLine> Lines)>();
        var (recorder, seconds) = await Load.FireAsync(options, progress, serverCpu, async (caller, n, random) =>
        {
            Span<int> picked = stackalloc int[Math.Min(random.Next(1, 4), skus.Length)];
            random.NextDistinct(skus.Length, picked);
            var lines = new List<OrderLine>(picked.Length);
            foreach (var index in picked)
            {
                lines.Add(new OrderLine(skus[index], null, 1));
            }

            var id = ReservationId(caller, n);
            var held = await target.PlaceAsync(id, lines, policy, cancellationToken);
            if (held is not null)
            {
                acknowledged.Add((id, held));
            }

            return held is not null;
        }, cancellationToken);

        var expected = acknowledged.SelectMany(o => o.Lines.Select(l => (Line: (l.Warehouse, l.Sku), o.Id, l.Quantity)))
            .GroupBy(x => x.Line).ToDictionary(g => g.Key, g => g.ToDictionary(x => x.Id, x => x.Quantity));
        var violations = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(skus.SelectMany(sku => OrderWarehouses.Select(w => (w, sku))), Setup(cancellationToken), async (line, token) =>
        {
            var (held, problems, _) = await ReadLineAsync(admin, line.w, line.sku, token);
            foreach (var problem in problems)
            {
                violations.Add(problem);
            }

            var want = expected.GetValueOrDefault(line) ?? [];
            if (want.Any(w => !held.TryGetValue(w.Key, out var q) || q != w.Value) || held.Keys.Any(k => !want.ContainsKey(k)))
            {
                violations.Add($"{line.w}/{line.sku}: the holds in the ledger differ from the acknowledged orders");
            }
        });

        return (recorder, seconds, violations.ToList(), []);
    }

    /// <summary>
    /// Defines the trade policy over the three order warehouses, receives the stock of every SKU in each, and waits (at
    /// most 200 × 50 ms) until the read model shows all of it; false when it never did.
    /// </summary>
    private async Task<bool> StockPolicyAsync(IStockTarget admin, string[] skus, string policy, CancellationToken cancellationToken)
    {
        await admin.DefineTradePolicyAsync(policy, OrderWarehouses, cancellationToken);
        await Parallel.ForEachAsync(skus.SelectMany(sku => OrderWarehouses.Select(w => (w, sku))), Setup(cancellationToken),
            async (line, token) => await admin.ReceiveAsync(line.w, line.sku, options.Stock, $"{_run}-stock-{line.w}-{line.sku}", token));
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var seen = await Task.WhenAll(skus.Select(sku => admin.AvailableAsync(sku, policy, OrderWarehouses, cancellationToken)));
            if (seen.All(available => available == options.Stock * OrderWarehouses.Length))
            {
                return true;
            }

            await Task.Delay(50, cancellationToken);
        }

        return false;
    }

    /// <summary>
    /// One hot SKU's availability over a trade policy of three warehouses, read and never changed: a product page's
    /// "in stock" while a sale goes on. Every read must answer all the stock received. The read model answers from
    /// memory, so with the embedded server at hand the check also counts its reads of the store: they may grow with
    /// time (a SKU is read again from the store once a minute), never with the reads.
    /// </summary>
    private async Task<(Recorder, double, IReadOnlyList<string>, IReadOnlyList<string>)> RunReadsAsync(
        IStockTarget target, IStockTarget admin, LedgerStoreCounters? counters, ServerCpu? serverCpu, CancellationToken cancellationToken)
    {
        var sku = Skus()[0];
        var policy = _run;
        var expected = options.Stock * OrderWarehouses.Length;
        var violations = new List<string>();
        if (!await StockPolicyAsync(admin, [sku], policy, cancellationToken))
        {
            violations.Add($"the read model never showed the {expected} units of {sku} received");
        }

        var storeReads = counters?.SkuReads ?? 0;
        var started = Stopwatch.GetTimestamp();
        long wrong = 0, lastWrong = 0;
        var (recorder, seconds) = await Load.FireAsync(options, progress, serverCpu, async (_, _, _) =>
        {
            var available = await target.AvailableAsync(sku, policy, OrderWarehouses, cancellationToken);
            if (available == expected)
            {
                return true;
            }

            Interlocked.Increment(ref wrong);
            Interlocked.Exchange(ref lastWrong, available);
            return false;
        }, cancellationToken);

        var notes = new List<string>();
        long? reads = counters is null ? null : counters.SkuReads - storeReads;
        var elapsed = Stopwatch.GetElapsedTime(started);
        notes.Add(reads is null
            ? "the read model's reads of the store were not counted: that needs the embedded server"
            : $"the read model read the store {reads} times in {elapsed.TotalSeconds:F0} s of reads");

        violations.AddRange(ReadViolations(sku, expected, wrong, lastWrong, reads, elapsed));
        foreach (var w in OrderWarehouses)
        {
            var line = await admin.GetLineAsync(w, sku, cancellationToken);
            if (line.OnHand != options.Stock || line.Reserved != 0)
            {
                violations.Add($"{w}/{sku} changed under reads: on hand {line.OnHand}, reserved {line.Reserved}");
            }
        }

        return (recorder, seconds, violations, notes);
    }

    /// <summary>
    /// What is wrong with a run of reads: reads that answered other than <paramref name="expected"/>, and reads of the
    /// store (when they were counted, from after the read model's first rebuild) beyond its refreshes: at most one per
    /// <see cref="AvailabilityShardGrain.RefreshAfter"/>, and one more for a refresh that falls due early in the window.
    /// </summary>
    internal static IEnumerable<string> ReadViolations(string sku, long expected, long wrong, long lastWrong, long? storeReads, TimeSpan elapsed)
    {
        if (wrong > 0)
        {
            yield return $"{wrong} reads of {sku} answered other than the {expected} units received (the last: {lastWrong})";
        }

        var allowed = (long)(elapsed / AvailabilityShardGrain.RefreshAfter) + 1;
        if (storeReads > allowed)
        {
            yield return $"the read model read the store {storeReads} times in {elapsed.TotalSeconds:F0} s (at most {allowed}): reads are not answered from memory";
        }
    }

    /// <summary>
    /// Reads a line's whole ledger and its balances: the holds still open (reservation id → quantity), the holds
    /// shipped, and what is wrong — an entry below zero, a hold committed or shipped twice, or balances that are not
    /// those of the ledger's last entry.
    /// </summary>
    private static async Task<(Dictionary<string, long> Held, List<string> Problems, HashSet<string> Shipped)> ReadLineAsync(
        IStockTarget admin, string warehouse, string sku, CancellationToken cancellationToken)
    {
        // The most entries one ledger page holds, on the store and on the API alike.
        const int Page = 1_000;
        var held = new Dictionary<string, long>();
        var committed = new HashSet<string>();
        var shipped = new HashSet<string>();
        var problems = new List<string>();
        var belowZero = false;
        LedgerRow? last = null;
        for (long after = 0; ;)
        {
            var page = await admin.ReadLedgerAsync(warehouse, sku, after, Page, cancellationToken);
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
                else if ((entry.Kind == LedgerEntryKind.Committed && !committed.Add(entry.ReservationId!)) ||
                    (entry.Kind == LedgerEntryKind.Shipped && !shipped.Add(entry.ReservationId!)))
                {
                    problems.Add($"{warehouse}/{sku}: hold {entry.ReservationId} was {entry.Kind.ToString().ToLowerInvariant()} twice");
                }
            }

            if (page.Count < Page)
            {
                last = page.Count > 0 ? page[^1] : last;
                break;
            }

            last = page[^1];
            after = last.Sequence;
        }

        if (belowZero)
        {
            problems.Add($"{warehouse}/{sku} went below zero");
        }

        var balance = await admin.GetLineAsync(warehouse, sku, cancellationToken);
        if (last is not null && (balance.OnHand != last.OnHandAfter || balance.Reserved != last.ReservedAfter || balance.Sequence != last.Sequence))
        {
            problems.Add($"{warehouse}/{sku}: the line reads on hand {balance.OnHand}, reserved {balance.Reserved} at {balance.Sequence}, " +
                $"its ledger ends at {last.Sequence} with {last.OnHandAfter}, {last.ReservedAfter}");
        }

        return (held, problems, shipped);
    }

    /// <summary>
    /// The reads' baseline: a shop's availability query, the SKU's stock rows in the three warehouses summed (a row below
    /// zero counts as none, as in StockGrains' read model), one query per read.
    /// </summary>
    private async Task<Report> RunPostgresReadsAsync(CancellationToken cancellationToken)
    {
        var name = BaselineName("PostgreSQL SELECT");
        var database = await EmbeddedServer.FreshDatabaseAsync(options.Connection!, cancellationToken);
        try
        {
            await using var source = BaselineSource(database);
            var sku = Skus()[0];
            await using (var setup = source.CreateCommand(
                "CREATE TABLE baseline_availability (sku text NOT NULL, warehouse text NOT NULL, on_hand bigint NOT NULL, " +
                "reserved bigint NOT NULL DEFAULT 0, committed bigint NOT NULL DEFAULT 0, PRIMARY KEY (sku, warehouse)); " +
                "INSERT INTO baseline_availability (sku, warehouse, on_hand) SELECT @sku, unnest(@warehouses), @stock"))
            {
                setup.Parameters.AddWithValue("sku", sku);
                setup.Parameters.AddWithValue("warehouses", OrderWarehouses);
                setup.Parameters.AddWithValue("stock", options.Stock);
                await setup.ExecuteNonQueryAsync(cancellationToken);
            }

            Header(name);
            var expected = options.Stock * OrderWarehouses.Length;
            long wrong = 0;
            var serverCpu = await ServerCpu.PostgresAsync(source, cancellationToken);
            var (recorder, seconds) = await Load.FireAsync(options, progress, serverCpu, async (_, _, _) =>
            {
                await using var read = source.CreateCommand(
                    "SELECT COALESCE(SUM(GREATEST(on_hand - reserved - committed, 0)), 0) FROM baseline_availability WHERE sku = @sku AND warehouse = ANY(@warehouses)");
                read.Parameters.AddWithValue("sku", sku);
                read.Parameters.AddWithValue("warehouses", OrderWarehouses);
                var ok = Convert.ToInt64(await read.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture) == expected;
                if (!ok)
                {
                    Interlocked.Increment(ref wrong);
                }

                return ok;
            }, cancellationToken);

            return Report.From(name, recorder, seconds, 0, wrong == 0 ? [] : [$"{wrong} reads answered other than {expected}"]);
        }
        finally
        {
            await EmbeddedServer.DropDatabaseAsync(options, database, Console.Error);
        }
    }

    /// <summary>
    /// The baselines' connections. Their statements are prepared, as StockGrains' own store prepares its statements:
    /// for a read of three rows by key, parsing and planning afresh every time would be much of the baseline's cost,
    /// and the ratio would flatter StockGrains. The pool is as large as <c>--baseline-connections</c> says.
    /// </summary>
    private NpgsqlDataSource BaselineSource(string database)
    {
        var builder = new NpgsqlDataSourceBuilder(database);
        builder.ConnectionStringBuilder.MaxAutoPrepare = 8;
        builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        builder.ConnectionStringBuilder.MaxPoolSize = options.EffectiveBaselineConnections;
        builder.ConnectionStringBuilder.MinPoolSize = Math.Min(builder.ConnectionStringBuilder.MinPoolSize, options.EffectiveBaselineConnections);
        return builder.Build();
    }

    /// <summary>A baseline's name in the reports, with its pool: the pool decides how fast a row lock can go.</summary>
    private string BaselineName(string what) => $"{what} ({Connections(options.EffectiveBaselineConnections)})";

    private static string Connections(long n) => n == 1 ? "1 connection" : $"{n} connections";

    private static ParallelOptions Setup(CancellationToken cancellationToken) =>
        new() { MaxDegreeOfParallelism = SetupParallelism, CancellationToken = cancellationToken };

    /// <summary>The same workload as one conditional UPDATE per reservation: the row lock most shops rely on.</summary>
    private async Task<Report> RunPostgresBaselineAsync(CancellationToken cancellationToken)
    {
        var database = await EmbeddedServer.FreshDatabaseAsync(options.Connection!, cancellationToken);
        try
        {
            await using var source = BaselineSource(database);
            await using (var setup = source.CreateCommand(
                "CREATE TABLE baseline_stock (sku text PRIMARY KEY, on_hand bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0, " +
                "committed bigint NOT NULL DEFAULT 0, CHECK (reserved + committed <= on_hand))"))
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

            var name = BaselineName("PostgreSQL conditional UPDATE");
            Header(name);
            // Counted here rather than taken from the recorder: the warm-up's reservations are real too.
            var acknowledged = 0L;
            var serverCpu = await ServerCpu.PostgresAsync(source, cancellationToken);
            var (recorder, seconds) = await Load.FireAsync(options, progress, serverCpu, async (_, _, random) =>
            {
                var sku = skus[random.Next(skus.Length)];
                var taken = await UpdateAsync("UPDATE baseline_stock SET reserved = reserved + 1 WHERE sku = @sku AND on_hand - reserved - committed >= 1", sku);
                if (taken)
                {
                    Interlocked.Increment(ref acknowledged);
                    // A checkout's later steps (--then), each its own transaction under the same row lock, as a shop's would be.
                    if (options.Commits)
                    {
                        await UpdateAsync("UPDATE baseline_stock SET reserved = reserved - 1, committed = committed + 1 WHERE sku = @sku", sku);
                    }

                    if (options.Ships)
                    {
                        await UpdateAsync("UPDATE baseline_stock SET on_hand = on_hand - 1, committed = committed - 1 WHERE sku = @sku", sku);
                    }
                }

                return taken;
            }, cancellationToken);

            async Task<bool> UpdateAsync(string sql, string sku)
            {
                await using var update = source.CreateCommand(sql);
                update.Parameters.AddWithValue("sku", sku);
                return await update.ExecuteNonQueryAsync(cancellationToken) == 1;
            }

            var violations = new List<string>();
            await using (var check = source.CreateCommand(
                "SELECT COALESCE(SUM(reserved), 0), COALESCE(SUM(committed), 0), COALESCE(SUM(on_hand), 0), " +
                "COUNT(*) FILTER (WHERE reserved + committed > on_hand) FROM baseline_stock"))
            await using (var reader = await check.ExecuteReaderAsync(cancellationToken))
            {
                await reader.ReadAsync(cancellationToken);
                var (reserved, committed, onHand) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
                var shipped = options.Stock * skus.Length - onHand;
                var want = options.Then switch
                {
                    "commit" => (0L, acknowledged, 0L),
                    "ship" => (0L, 0L, acknowledged),
                    _ => (acknowledged, 0L, 0L),
                };
                if ((reserved, committed, shipped) != want)
                {
                    violations.Add($"{acknowledged} acknowledged: {reserved} reserved, {committed} committed, {shipped} shipped");
                }

                if (reader.GetInt64(3) > 0)
                {
                    violations.Add("oversell");
                }
            }

            // The pool's connections stay open once made (setup's included), so this counts how many the pool opened for
            // the run: it shows the pool's bound held.
            long connections;
            await using (var count = source.CreateCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'"))
            {
                connections = Convert.ToInt64(await count.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
            }

            return Report.From(name, recorder, seconds, 0, violations,
                notes: [$"the row lock was taken through {Connections(connections)} (at most {options.EffectiveBaselineConnections})"]);
        }
        finally
        {
            await EmbeddedServer.DropDatabaseAsync(options, database, Console.Error);
        }
    }
}
