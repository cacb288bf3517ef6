using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using StockGrains.Chaos;
using StockGrains.Tests.Infrastructure;

namespace StockGrains.Tests.Cluster;

[CollectionDefinition(nameof(ClusterFaults), DisableParallelization = true)]
public sealed class ClusterFaults;

/// <summary>
/// Real silo processes on a real PostgreSQL under continuous reservations, with real faults: a silo killed with
/// SIGKILL, and the database restarted with <c>-m immediate</c>. Afterwards every acknowledged reservation must be in
/// the ledger, and no line may be below zero.
/// </summary>
[Collection(nameof(ClusterFaults))]
public sealed class ClusterFaultTests(ITestOutputHelper output)
{
    private const int Skus = 8;
    private const long StockPerSku = 100_000;

    // Proves a SIGKILLed silo loses no acknowledged reservation and causes no oversell; its lines serve again within a measured bound, and a restarted silo rejoins.
    [Fact]
    public async Task A_killed_silo_loses_no_acknowledged_reservation_and_its_lines_serve_again()
    {
        var connection = await PostgresTestDatabase.CreateAsync();
        var clusterId = Fresh.Id("kill");
        var silos = new List<SiloProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                silos.Add(await TestSilos.StartAsync(connection, clusterId));
            }

            var warehouse = Fresh.Id("w");
            await StockAsync(silos[0].Http, warehouse);
            var workload = new Workload(warehouse, silos.Select(s => s.Http).ToList());
            var running = workload.RunAsync(TimeSpan.FromSeconds(15));
            await Task.Delay(TimeSpan.FromSeconds(4), TestContext.Current.CancellationToken);
            var killedAt = Stopwatch.GetTimestamp();
            silos[1].Kill();
            workload.Avoid(1);
            await running;

            var recovery = workload.LastFailureAt is { } last && last > killedAt ? Stopwatch.GetElapsedTime(killedAt, last) : TimeSpan.Zero;
            output.WriteLine($"acknowledged {workload.Acknowledged.Count}, failed attempts {workload.FailedAttempts}, lines served again {recovery.TotalSeconds:F1} s after the kill");
            Assert.True(recovery < TimeSpan.FromSeconds(30), $"lines took {recovery} to serve again");
            Assert.True(workload.Acknowledged.Count > 100, "the workload must have made progress");
            await AssertLedgerHoldsEveryAcknowledgementAsync(silos[0].Http, warehouse, workload);

            // The restarted silo rejoins and serves.
            silos[1] = await TestSilos.StartAsync(connection, clusterId);
            var (status, _) = await silos[1].Http.GetJsonAsync($"/v1/stock/{warehouse}/sku-0");
            Assert.Equal(200, status);
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    // Proves scaling while traffic flows: a silo added and another removed gracefully cost no request beyond retried ones, and every acknowledgement is in the ledger.
    [Fact]
    public async Task Adding_a_silo_and_removing_one_gracefully_under_traffic_fails_nothing()
    {
        var connection = await PostgresTestDatabase.CreateAsync();
        var clusterId = Fresh.Id("scale");
        var silos = new List<SiloProcess>();
        try
        {
            silos.Add(await TestSilos.StartAsync(connection, clusterId));
            silos.Add(await TestSilos.StartAsync(connection, clusterId));
            var warehouse = Fresh.Id("w");
            await StockAsync(silos[0].Http, warehouse);
            var workload = new Workload(warehouse, silos.Select(s => s.Http).ToList());
            var running = workload.RunAsync(TimeSpan.FromSeconds(16));

            silos.Add(await TestSilos.StartAsync(connection, clusterId));
            workload.Add(silos[2].Http);
            await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);

            // Drain first, as a load balancer does, then ask the silo to leave.
            workload.Avoid(0);
            await silos[0].StopAsync();
            await running;

            output.WriteLine($"acknowledged {workload.Acknowledged.Count}, failed attempts {workload.FailedAttempts}, gave up {workload.GaveUp.Count}");
            Assert.True(silos[0].HasExited, "the removed silo exits");
            Assert.Empty(workload.GaveUp);
            Assert.Equal(0, workload.UncleanAnswers);
            await AssertLedgerHoldsEveryAcknowledgementAsync(silos[1].Http, warehouse, workload);
        }
        finally
        {
            foreach (var silo in silos)
            {
                await silo.DisposeAsync();
            }
        }
    }

    // Proves a database restart under load loses no acknowledged reservation: requests during the outage fail cleanly (a problem document, no success) and succeed when retried with the same id.
    [Fact]
    public async Task A_database_restart_under_load_loses_nothing_and_retries_succeed()
    {
        await using var postgres = await LocalPostgres.StartAsync();
        var connection = postgres.ConnectionString;
        SiloProcess? silo = null;
        try
        {
            silo = await TestSilos.StartAsync(connection, Fresh.Id("dbr"));
            var warehouse = Fresh.Id("w");
            await StockAsync(silo.Http, warehouse);
            var workload = new Workload(warehouse, [silo.Http]);
            var running = workload.RunAsync(TimeSpan.FromSeconds(14));
            await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
            await postgres.RestartImmediatelyAsync();
            await running;

            output.WriteLine($"acknowledged {workload.Acknowledged.Count}, failed attempts {workload.FailedAttempts}, unclean answers {workload.UncleanAnswers}");
            Assert.Equal(0, workload.UncleanAnswers);
            Assert.True(workload.FailedAttempts > 0, "the outage should have been felt");
            Assert.Empty(workload.GaveUp);
            await AssertLedgerHoldsEveryAcknowledgementAsync(silo.Http, warehouse, workload);
        }
        finally
        {
            if (silo is not null)
            {
                await silo.DisposeAsync();
            }
        }
    }

    private static async Task StockAsync(HttpClient http, string warehouse)
    {
        for (var i = 0; i < Skus; i++)
        {
            var (status, _) = await http.PostJsonAsync($"/v1/stock/{warehouse}/sku-{i}/receipts", new { quantity = StockPerSku }, key: $"stock-{i}");
            Assert.Equal(200, status);
        }
    }

    /// <summary>Every acknowledged reservation is a hold in its line's ledger; holds add up; nothing is below zero.</summary>
    private static async Task AssertLedgerHoldsEveryAcknowledgementAsync(HttpClient http, string warehouse, Workload workload)
    {
        for (var i = 0; i < Skus; i++)
        {
            var sku = $"sku-{i}";
            var reserved = new HashSet<string>();
            for (long after = 0; ;)
            {
                var (status, page) = await http.GetJsonAsync($"/v1/stock/{warehouse}/{sku}/ledger?after={after}&limit=1000");
                Assert.Equal(200, status);
                var entries = page.GetProperty("entries").EnumerateArray().ToList();
                foreach (var entry in entries)
                {
                    Assert.True(entry.Long("onHandAfter") - entry.Long("reservedAfter") >= 0, $"{sku} below zero at {entry}");
                    if (entry.Str("kind") == "reserved")
                    {
                        Assert.True(reserved.Add(entry.Str("reservationId")!), $"{sku}: a second hold for {entry.Str("reservationId")}");
                    }
                }

                if (entries.Count < 1000)
                {
                    break;
                }

                after = entries[^1].Long("sequence");
            }

            var acknowledged = workload.Acknowledged.Where(a => a.Sku == sku).Select(a => a.Id).ToList();
            var lost = acknowledged.Where(id => !reserved.Contains(id)).ToList();
            Assert.True(lost.Count == 0, $"{sku}: {lost.Count} acknowledged reservations are not in the ledger, e.g. {lost.FirstOrDefault()}");
        }
    }



    /// <summary>
    /// Simultaneous checkouts: each caller reserves one unit of a random SKU with a fresh id and retries the same id
    /// (on another silo when there is one) until it gets an answer, as a real checkout would.
    /// </summary>
    private sealed class Workload(string warehouse, List<HttpClient> initial)
    {
        private readonly List<HttpClient> _silos = [.. initial];
        private const int Callers = 12;
        private const int MaxAttempts = 60;
        private readonly ConcurrentBag<(string Sku, string Id)> _acknowledged = [];
        private readonly ConcurrentBag<string> _gaveUp = [];
        private volatile int _avoid = -1;
        private int _failedAttempts;
        private int _uncleanAnswers;
        private long _lastFailureAt;

        public IReadOnlyCollection<(string Sku, string Id)> Acknowledged => _acknowledged;

        public IReadOnlyCollection<string> GaveUp => _gaveUp;

        public int FailedAttempts => _failedAttempts;

        /// <summary>Answers that were neither a success, a clean refusal, nor a problem document.</summary>
        public int UncleanAnswers => _uncleanAnswers;

        public long? LastFailureAt => Interlocked.Read(ref _lastFailureAt) is var at && at != 0 ? at : null;

        /// <summary>Start sending to a new silo too (the way a load balancer picks up a new backend).</summary>
        public void Add(HttpClient silo)
        {
            lock (_silos)
            {
                _silos.Add(silo);
            }
        }

        /// <summary>Stop sending to silo <paramref name="index"/> (the way a load balancer drops a dead backend).</summary>
        public void Avoid(int index) => _avoid = index;

        public Task RunAsync(TimeSpan duration) => Task.WhenAll(Enumerable.Range(0, Callers).Select(caller => CallerAsync(caller, duration)));

        private async Task CallerAsync(int caller, TimeSpan duration)
        {
            var random = new Random(caller);
            var started = Stopwatch.GetTimestamp();
            for (var n = 0; Stopwatch.GetElapsedTime(started) < duration; n++)
            {
                var sku = $"sku-{random.Next(Skus)}";
                var id = $"c{caller}-{n}-{Guid.NewGuid():N}";
                var body = new { reservationId = id, lines = new[] { new { sku, warehouse, quantity = 1 } }, ttlSeconds = 3600 };
                var done = false;
                for (var attempt = 0; attempt < MaxAttempts && !done; attempt++)
                {
                    HttpClient target;
                    lock (_silos)
                    {
                        var index = (caller + n + attempt) % _silos.Count;
                        if (index == _avoid && _silos.Count > 1)
                        {
                            index = (index + 1) % _silos.Count;
                        }

                        target = _silos[index];
                    }

                    try
                    {
                        using var response = await target.PostAsJsonAsync("/v1/reservations", body);
                        var status = (int)response.StatusCode;
                        if (status is 200 or 201)
                        {
                            _acknowledged.Add((sku, id));
                            done = true;
                        }
                        else if (status == 409)
                        {
                            done = true;
                        }
                        else
                        {
                            if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                            {
                                Interlocked.Increment(ref _uncleanAnswers);
                            }

                            Failed();
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
                    {
                        Failed();
                    }

                    if (!done)
                    {
                        await Task.Delay(250);
                    }
                }

                if (!done)
                {
                    _gaveUp.Add(id);
                }
            }
        }

        private void Failed()
        {
            Interlocked.Increment(ref _failedAttempts);
            Interlocked.Exchange(ref _lastFailureAt, Stopwatch.GetTimestamp());
        }
    }
}
