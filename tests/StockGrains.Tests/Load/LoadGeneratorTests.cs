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

    // Proves checkouts that commit and ship every unit they held hold every invariant, on StockGrains and on both baselines doing the same steps (each acknowledged unit shipped once, none sold twice), and that each run reports the processor time of this process and of its server.
    [Fact]
    public async Task A_short_sale_whose_checkouts_ship_every_unit_holds_every_invariant_here_and_in_both_baselines()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 16, Duration = TimeSpan.FromSeconds(2), Stock = 300, Then = "ship", Store = "postgres",
            Connection = PostgresTestDatabase.ServerConnection(), PostgresBaseline = true, RedisBaseline = true, Redis = redis.Address,
        };
        var reports = await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(3, reports.Count);
        Assert.All(reports, r => Assert.Empty(r.Violations));
        Assert.All(reports, r => Assert.Equal(300, r.Succeeded));
        Assert.All(reports, r => Assert.True(r.Refused > 0, $"{r.Target}: the sale should have sold out"));

        // Both servers run on this machine, so every report also says what its server spent on a request.
        Assert.Equal(["postgres", "postgres", "redis"], reports.Select(r => r.ServerCpuName));
        Assert.All(reports, r => Assert.True(r.CpuMicrosPerRequest > 0 && r.ServerCpuMicrosPerRequest > 0, r.ToString()));
    }

    // Proves a run reports what one ledger transaction carried and what the process allocated while the workload was measured.
    [Fact]
    public async Task A_run_reports_entries_per_transaction_and_bytes_allocated_per_request()
    {
        var options = new LoadOptions { Scenario = "flash-sale", Callers = 16, Duration = TimeSpan.FromSeconds(1), Stock = 1_000_000 };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.InRange(report.EntriesPerAppend, 1, report.EntriesPerTransaction);
        Assert.True(report.BytesPerRequest > 0);
        Assert.Equal(3, report.Collections.Count);
        Assert.Contains("entries/tx", report.ToString(), StringComparison.Ordinal);
        Assert.Contains("alloc/req", report.ToString(), StringComparison.Ordinal);
        Assert.InRange(report.LongestGcPauseMs, 0, report.GcPauseMs + 1);
    }

    // Proves the longest-pause listener sees the collector stop the process: after induced collections it reports a pause and a generation.
    [Fact]
    public async Task The_longest_gc_pause_is_seen_with_the_generation_it_collected()
    {
        using var pauses = new GcPauses();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (pauses.Longest.Generation < 0)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "no GC pause was reported");
            GC.Collect(1, GCCollectionMode.Forced, blocking: true);
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        var (pause, generation) = pauses.Longest;
        Assert.True(pause > TimeSpan.Zero);
        Assert.InRange(generation, 0, 2);
    }

    // Proves the warm-up reserves for real under ids of its own and is left out of the figures: a sale that sells out while warming up measures only refusals.
    [Fact]
    public async Task A_sale_that_sells_out_during_the_warm_up_measures_only_refusals()
    {
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 16, Warmup = TimeSpan.FromSeconds(2), Duration = TimeSpan.FromSeconds(1), Stock = 200,
        };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.Equal(0, report.Succeeded);
        Assert.True(report.Refused > 0, "the measured second should have been refused: the warm-up sold everything");
    }

    // Proves a short uniform run over many SKUs, on PostgreSQL and against the row-lock baseline, holds every invariant.
    [Fact]
    public async Task A_short_uniform_run_on_postgres_with_its_baseline_holds_every_invariant()
    {
        var server = PostgresTestDatabase.ServerConnection();
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

    // Proves --baseline-connections bounds the row lock's pool: 16 callers share 2 connections, the report says so, and every invariant holds.
    [Fact]
    public async Task The_row_lock_baseline_takes_no_more_connections_than_its_pool_allows()
    {
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 16, Duration = TimeSpan.FromSeconds(1), Stock = 100_000, Store = "postgres",
            Connection = PostgresTestDatabase.ServerConnection(), PostgresBaseline = true, BaselineConnections = 2,
        };
        var reports = await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
        var baseline = reports[1];
        Assert.Equal("PostgreSQL conditional UPDATE (2 connections)", baseline.Target);
        Assert.Empty(baseline.Violations);
        Assert.True(baseline.Succeeded > 0, baseline.ToString());
        Assert.InRange(ConnectionsUsed(baseline), 1, 2);

        // Without the option the pool allows a connection per caller (how many open depends on how the callers overlap).
        var wide = await new Runner(options with { BaselineConnections = null, Callers = 8 }, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal("PostgreSQL conditional UPDATE (8 connections)", wide[1].Target);
        Assert.InRange(ConnectionsUsed(wide[1]), 1, 8);

        // "the row lock was taken through N connection(s) (at most M)"
        static int ConnectionsUsed(Report report) => int.Parse(
            Assert.Single(report.Notes, n => n.StartsWith("the row lock was taken through", StringComparison.Ordinal)).Split(' ')[6],
            System.Globalization.CultureInfo.InvariantCulture);
    }

    // Proves a PostgreSQL run drops the two databases it made (the server's and the baseline's), and --keep-databases keeps them.
    [Fact]
    public async Task A_postgres_run_drops_its_databases_unless_asked_to_keep_them()
    {
        var server = PostgresTestDatabase.ServerConnection();
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 4, Duration = TimeSpan.FromSeconds(1), Stock = 100, Store = "postgres",
            Connection = server, PostgresBaseline = true,
        };
        var before = await LoadDatabasesAsync(server);

        var dropped = await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
        Assert.All(dropped, r => Assert.Empty(r.Violations));
        Assert.Equal(before, await LoadDatabasesAsync(server));

        await new Runner(options with { KeepDatabases = true }, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
        var kept = (await LoadDatabasesAsync(server)).Except(before).ToList();
        try
        {
            Assert.Equal(2, kept.Count);
        }
        finally
        {
            foreach (var name in kept)
            {
                await EmbeddedServer.DropDatabaseAsync(options, new Npgsql.NpgsqlConnectionStringBuilder(server) { Database = name }.ConnectionString, TextWriter.Null);
            }
        }
    }

    // Proves the row-lock baseline's check counts what its warm-up reserved: after a warm-up, reserved units still equal acknowledged ones.
    [Fact]
    public async Task The_row_lock_baseline_checks_its_warm_up_too()
    {
        var server = PostgresTestDatabase.ServerConnection();
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 8, Warmup = TimeSpan.FromSeconds(1), Duration = TimeSpan.FromSeconds(1), Stock = 1_000_000,
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

    // Proves the reads scenario: every read of the hot SKU's availability answers all the stock received, the read model never reads the store while answering them, and both baselines read the same figure.
    [Fact]
    public async Task A_short_run_of_reads_answers_every_read_from_memory_and_its_baselines_agree()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var options = new LoadOptions
        {
            Scenario = "reads", Callers = 16, Duration = TimeSpan.FromSeconds(2), Stock = 40, Store = "postgres",
            Connection = PostgresTestDatabase.ServerConnection(), PostgresBaseline = true, RedisBaseline = true, Redis = redis.Address,
        };
        var runner = new Runner(options, TextWriter.Null);
        var reports = await runner.RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(["StockGrains embedded availability (postgres)", "PostgreSQL SELECT (16 connections)", "Redis MGET"], reports.Select(r => r.Target));
        Assert.All(reports, r => Assert.Empty(r.Violations));
        Assert.All(reports, r => Assert.True(r.Succeeded > 0 && r.Refused == 0 && r.Failed == 0, r.ToString()));
        Assert.Contains(reports[0].Notes, n => n.StartsWith("the read model read the store 0 times", StringComparison.Ordinal));
        Assert.Equal(["postgresSelect", "redisMget"], runner.Ratios.Keys.Order());
    }

    // Proves the reads' check has teeth: a wrong answer, or more store reads than one refresh a minute (and one that falls due early), is a violation.
    [Fact]
    public void The_reads_check_catches_wrong_answers_and_reads_of_the_store()
    {
        Assert.Empty(Runner.ReadViolations("hot", 120, 0, 0, 0, TimeSpan.FromSeconds(15)));
        Assert.Empty(Runner.ReadViolations("hot", 120, 0, 0, 1, TimeSpan.FromSeconds(15)));
        Assert.Empty(Runner.ReadViolations("hot", 120, 0, 0, null, TimeSpan.FromSeconds(15)));
        Assert.Empty(Runner.ReadViolations("hot", 120, 0, 0, 3, TimeSpan.FromSeconds(125)));
        Assert.Contains("answered other than the 120 units", Assert.Single(Runner.ReadViolations("hot", 120, 2, 119, 0, TimeSpan.FromSeconds(15))),
            StringComparison.Ordinal);
        Assert.Contains("not answered from memory", Assert.Single(Runner.ReadViolations("hot", 120, 0, 0, 2, TimeSpan.FromSeconds(15))),
            StringComparison.Ordinal);
    }

    // Proves reads reach availability over HTTP too (GET /v1/availability), with every read answering the stock received.
    [Fact]
    public async Task A_short_http_run_of_reads_holds_every_invariant()
    {
        var options = LoadOptions.Parse(["--scenario", "reads", "--target", "http", "--callers", "8", "--duration", "1", "--stock", "7"]);
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.Equal("StockGrains http availability (sqlite)", report.Target);
        Assert.True(report.Succeeded > 0 && report.Refused == 0 && report.Failed == 0, report.ToString());
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

    // Proves the activation scenario measures memory per active line and re-activates every sampled line from storage intact.
    [Fact]
    public async Task A_short_activation_run_reactivates_every_line_intact()
    {
        var options = LoadOptions.Parse(["--scenario", "activation", "--skus", "2000"]);
        var report = await Activation.RunAsync(options, TextWriter.Null, TestContext.Current.CancellationToken);
        Assert.Empty(report.Violations);
        Assert.Equal(2000, report.Reactivated);
        Assert.True(report.BytesPerActiveLine > 0, report.ToString());
    }

    // Proves the Redis baseline runs the same workload through its Lua check-and-decrement and holds its invariants: exactly the stock sold, the count left is stock minus successes.
    [Fact]
    public async Task A_short_redis_baseline_run_sells_exactly_the_stock_and_holds_every_invariant()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 16, Duration = TimeSpan.FromSeconds(2), Stock = 300, RedisBaseline = true, Redis = redis.Address,
        };
        var runner = new Runner(options, TextWriter.Null);
        var reports = await runner.RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, reports.Count);
        Assert.All(reports, r => Assert.Empty(r.Violations));
        var baseline = reports[1];
        Assert.Equal("Redis Lua check-and-decrement", baseline.Target);
        Assert.Equal(300, baseline.Succeeded);
        Assert.True(baseline.Refused > 0, "the sale should have sold out");
        Assert.Equal(0, baseline.Failed);
        Assert.Empty(baseline.Notes);
        Assert.True(runner.Ratios.ContainsKey("redisLua"));
    }

    // Proves a run reports the runtime's and the server's tuning from the environment, and never the server's secrets that live beside them.
    [Fact]
    public void A_run_reports_its_tuning_from_the_environment_and_none_of_the_server_secrets()
    {
        var reported = RuntimeSettings.From(new Dictionary<string, string>
        {
            ["DOTNET_GCGen0MaxBudget"] = "0x1000000",
            ["StockGrains__LedgerWriters"] = "1",
            ["StockGrains__StockLine__SnapshotEvery"] = "500",
            ["StockGrains__ConnectionString"] = "Host=db;Password=hunter2",
            ["StockGrains__Auth__Jwt__SigningKey"] = "signing-secret",
            ["StockGrains__Auth__Clients__shop__KeyHashes__0"] = "hash-secret",
            ["PATH"] = "/usr/bin",
        });
        Assert.Equal(["DOTNET_GCGen0MaxBudget=0x1000000", "StockGrains__LedgerWriters=1", "StockGrains__StockLine__SnapshotEvery=500"], reported);
    }

    // Proves a Redis that rewrites its append-only file by itself is named in the baseline's notes, since a rewrite mid-run forks it; the test server, started by the project's script, does not.
    [Fact]
    public async Task A_redis_that_rewrites_its_file_by_itself_is_noted_as_such()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var connection = await RedisBaseline.ConnectAsync(new LoadOptions { Redis = redis.Address });
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 4, Duration = TimeSpan.FromSeconds(1), Stock = 50, RedisBaseline = true, Redis = redis.Address,
        };
        var original = (await server.ConfigGetAsync("auto-aof-rewrite-percentage")).Single().Value;
        await server.ConfigSetAsync("auto-aof-rewrite-percentage", "100");
        try
        {
            var reports = await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken);
            Assert.Contains(reports[1].Notes, n => n.Contains("auto-aof-rewrite-percentage 100", StringComparison.Ordinal));
        }
        finally
        {
            await server.ConfigSetAsync("auto-aof-rewrite-percentage", original);
        }
    }

    // Proves the Redis baseline rewrites an append-only file grown past its bound before it measures, and waits for the rewrite to end.
    [Fact]
    public async Task An_append_only_file_past_its_bound_is_rewritten_before_the_run()
    {
        await using var redis = await RedisTestServer.StartAsync();
        await using var connection = await RedisBaseline.ConnectAsync(new LoadOptions { Redis = redis.Address });
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        await connection.GetDatabase().StringSetAsync($"stockgrains-test:{Fresh.Id("aof")}", 1);
        var before = RedisBaseline.Number(await RedisBaseline.PersistenceAsync(server), "aof_rewrites");
        var notes = new List<string>();

        // Any file is past a bound of one byte.
        await RedisBaseline.CompactAppendOnlyFileAsync(connection, 1, notes, TestContext.Current.CancellationToken);
        Assert.Empty(notes);
        Assert.Equal(before + 1, RedisBaseline.Number(await RedisBaseline.PersistenceAsync(server), "aof_rewrites"));
        Assert.Equal(0, RedisBaseline.Number(await RedisBaseline.PersistenceAsync(server), "aof_rewrite_in_progress"));

        // Under its bound, the file is left alone.
        await RedisBaseline.CompactAppendOnlyFileAsync(connection, long.MaxValue, notes, TestContext.Current.CancellationToken);
        Assert.Equal(before + 1, RedisBaseline.Number(await RedisBaseline.PersistenceAsync(server), "aof_rewrites"));
    }

    // Proves --half-peak follows the closed loop with an open loop at half the rate it reached, on a server of its own, and both runs hold every invariant.
    [Fact]
    public async Task A_half_peak_run_fires_an_open_loop_at_half_the_measured_peak()
    {
        var options = LoadOptions.Parse(["--scenario", "flash-sale", "--callers", "8", "--duration", "2", "--stock", "1000000", "--half-peak"]);
        var output = new StringWriter();
        var runner = new Runner(options, output);
        var reports = await runner.RunAsync(TestContext.Current.CancellationToken);
        Assert.Equal(2, reports.Count);
        Assert.All(reports, r => Assert.Empty(r.Violations));
        var rate = Math.Round(reports[0].PerSecond / 2);
        Assert.Contains($"an open loop at {rate:N0} arrivals/s", output.ToString(), StringComparison.Ordinal);
        // An open loop's arrivals are scheduled, so in two seconds it sends about twice its rate, whatever the server does.
        var half = reports[1];
        Assert.Same(runner.HalfPeak, half);
        Assert.InRange(half.Succeeded + half.Refused + half.Failed, rate * 2 * 0.7, rate * 2 * 1.3);
        Assert.Contains($"p99 at half of peak: {half.P99Ms:F2} ms", output.ToString(), StringComparison.Ordinal);
    }

    // Proves rounds run StockGrains and the baseline in turn: every run of every round sells exactly the stock and holds its invariants, each round has its own ratio, and the summary and the JSON report give their median.
    [Fact]
    public async Task Each_round_sells_its_own_stock_and_the_summary_gives_the_median_ratio()
    {
        await using var redis = await RedisTestServer.StartAsync();
        var options = new LoadOptions
        {
            Scenario = "flash-sale", Callers = 8, Duration = TimeSpan.FromSeconds(1), Stock = 100, RedisBaseline = true, Redis = redis.Address, Rounds = 2,
        };
        var output = new StringWriter();
        var rounds = await Rounds.RunAsync(options, output, null, TestContext.Current.CancellationToken);
        Assert.Equal([1, 2], rounds.Select(r => r.Number));
        Assert.All(rounds, r => Assert.Equal(2, r.Reports.Count));
        Assert.All(rounds.SelectMany(r => r.Reports), r => Assert.Equal(100, r.Succeeded));
        Assert.All(rounds.SelectMany(r => r.Reports), r => Assert.Empty(r.Violations));
        var median = (rounds[0].Ratios["redisLua"] + rounds[1].Ratios["redisLua"]) / 2;
        Assert.Contains($"round 2 of 2:", output.ToString(), StringComparison.Ordinal);
        Assert.Contains($"over 2 rounds, StockGrains / Redis Lua: median {median:F1}x", output.ToString(), StringComparison.Ordinal);

        // The JSON report carries every report, the median and every round's ratio.
        using var json = System.Text.Json.JsonDocument.Parse(Rounds.Json(options, rounds));
        Assert.Equal(4, json.RootElement.GetProperty("reports").GetArrayLength());
        Assert.Equal(median, json.RootElement.GetProperty("ratios").GetProperty("redisLua").GetDouble(), 10);
        Assert.Equal(rounds[1].Ratios["redisLua"], json.RootElement.GetProperty("rounds")[1].GetProperty("ratios").GetProperty("redisLua").GetDouble(), 10);
    }

    // Proves a short run over HTTP, whose checkouts place, commit and ship each order, holds every invariant: each acknowledged shipment is in the ledger once.
    [Fact]
    public async Task A_short_http_run_whose_checkouts_ship_every_order_holds_every_invariant()
    {
        var options = new LoadOptions { Scenario = "flash-sale", Target = "http", Callers = 16, Duration = TimeSpan.FromSeconds(3), Stock = 40, Then = "ship" };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.Equal(0, report.Failed);
        Assert.InRange(report.Succeeded, 1, 40);
        Assert.Equal("StockGrains http orders (sqlite)", report.Target);
    }

    // Proves a short run through a separate Orleans client over TCP holds every invariant and shows one progress line a second.
    [Fact]
    public async Task A_short_orleans_client_run_against_the_embedded_server_holds_every_invariant_and_shows_progress()
    {
        var options = new LoadOptions { Scenario = "flash-sale", Target = "orleans", Callers = 16, Duration = TimeSpan.FromSeconds(3), Stock = 300 };
        var progress = new StringWriter();
        var report = (await new Runner(options, TextWriter.Null, progress).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.Equal(0, report.Failed);
        Assert.Equal(300, report.Succeeded);
        Assert.Equal("StockGrains orleans lines (sqlite)", report.Target);
        Assert.Matches(@"(?m)^\s+\d+s\s+[\d,]+ ok/s  p99 [\d,]+ ms  refused [\d,]+  errors 0$", progress.ToString());
    }

    // Proves a short run of one-line orders through the Orleans client, the path HTTP takes, holds every invariant.
    [Fact]
    public async Task A_short_orleans_client_run_via_orders_holds_every_invariant()
    {
        var options = new LoadOptions { Scenario = "uniform", Skus = 20, Target = "orleans", Via = "orders", Callers = 16, Duration = TimeSpan.FromSeconds(2), Stock = 5 };
        var report = (await new Runner(options, TextWriter.Null).RunAsync(TestContext.Current.CancellationToken)).Single();
        Assert.Empty(report.Violations);
        Assert.Equal(0, report.Failed);
        Assert.True(report.Succeeded > 0);
    }

    // Proves bad arguments are refused with a clear message.
    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--callers", "0"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--scenario", "stampede"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--postgres-baseline"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--redis-baseline"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--baseline-connections", "4"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--postgres-baseline", "--connection", "x", "--baseline-connections", "0"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--postgres-baseline", "--connection", "x", "--baseline-connections", "257"]));
        Assert.Equal(4, LoadOptions.Parse(["--postgres-baseline", "--connection", "x", "--baseline-connections", "4"]).EffectiveBaselineConnections);
        Assert.Equal(64, LoadOptions.Parse(["--postgres-baseline", "--connection", "x"]).EffectiveBaselineConnections);
        Assert.Equal(100, LoadOptions.Parse(["--postgres-baseline", "--connection", "x", "--callers", "500"]).EffectiveBaselineConnections);
        Assert.Equal(256, LoadOptions.Parse(["--postgres-baseline", "--connection", "x", "--baseline-connections", "256"]).EffectiveBaselineConnections);
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--redis", "localhost"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--target", "grpc"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--target", "http", "--via", "lines"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--gateway", "30000"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--target", "orleans", "--gateway", "70000"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--target", "http", "--url", "ftp://127.0.0.1"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--target", "http", "--url", "http://127.0.0.1:5080", "--store", "postgres", "--connection", "x"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--then", "refund"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--then", "ship", "--scenario", "orders"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--scenario", "reads", "--via", "lines"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--scenario", "reads", "--then", "commit"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--scenario", "reads", "--broken-skip-stock-check"]));
        Assert.Equal("availability", LoadOptions.Parse(["--scenario", "reads", "--target", "http"]).EffectiveVia);
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--rounds", "0"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--rounds", "21"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--rounds", "2", "--scenario", "activation"]));
        Assert.Equal(5, LoadOptions.Parse(["--rounds", "5"]).Rounds);
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--half-peak", "--rate", "1000"]));
        Assert.Throws<ArgumentException>(() => LoadOptions.Parse(["--half-peak", "--scenario", "activation"]));
        Assert.Equal("ship", LoadOptions.Parse(["--then", "ship"]).Then);
        Assert.Equal("commit", LoadOptions.Parse(["--then", "commit", "--target", "http"]).Then);
        Assert.Equal(8, LoadOptions.Parse(["--callers", "8"]).Callers);
        Assert.Equal("orders", LoadOptions.Parse(["--target", "http"]).EffectiveVia);
        Assert.False(LoadOptions.Parse(["--target", "orleans", "--gateway", "30000"]).Embedded);
        Assert.True(LoadOptions.Parse(["--target", "orleans"]).Embedded);
    }

    // Proves --help names every option the parser takes, so the text cannot fall behind the code.
    [Fact]
    public void The_help_names_every_option()
    {
        string[] options =
        [
            "--scenario", "--callers", "--rate", "--duration", "--warmup", "--stock", "--skus", "--target", "--via", "--then", "--gateway", "--service-id",
            "--cluster-id", "--url", "--api-key", "--store", "--connection", "--broken-skip-stock-check", "--postgres-baseline",
            "--baseline-connections", "--redis-baseline", "--redis", "--half-peak", "--rounds", "--keep-databases", "--quiet", "--json", "--help",
        ];
        Assert.All(options, o => Assert.Contains(o, LoadOptions.Help, StringComparison.Ordinal));
        var parser = File.ReadAllText(Path.Combine(RepositoryRoot(), "src", "StockGrains.LoadGenerator", "LoadOptions.cs"));
        var parsed = System.Text.RegularExpressions.Regex.Matches(parser, "^\\s+\"(--[a-z-]+)\" =>", System.Text.RegularExpressions.RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value).ToList();
        Assert.NotEmpty(parsed);
        Assert.All(parsed, o => Assert.Contains(o, options));
    }

    /// <summary>The databases load runs make on the test server, by name.</summary>
    private static async Task<List<string>> LoadDatabasesAsync(string server)
    {
        await using var connection = new Npgsql.NpgsqlConnection(server);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT datname FROM pg_database WHERE datname LIKE 'load\\_%' ORDER BY datname", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var names = new List<string>();
        while (await reader.ReadAsync())
        {
            names.Add(reader.GetString(0));
        }

        return names;
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", ".."));
}
