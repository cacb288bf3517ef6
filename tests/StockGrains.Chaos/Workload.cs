using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace StockGrains.Chaos;

/// <summary>
/// The seeded workload: receipts, adjustments, reservations and their commits, shipments and releases over a few
/// lines with one hot SKU. Each logical operation is retried until it gets a definite answer, with the same id (or,
/// in the negative control, a fresh one); every attempt is recorded.
/// </summary>
public sealed class Workload(Cluster cluster, History history, ChaosOptions options, Stopwatch clock)
{
    /// <summary>The lines under load: one hot SKU and a few quiet ones, in two warehouses.</summary>
    public static readonly string[] Lines = ["w1/hot", "w1/c1", "w2/c1", "w2/c2"];

    /// <summary>A logical operation gives up after this many attempts; its outcome then stays unknown.</summary>
    private const int MaxTries = 12;

    /// <summary>An answer slower than this counts as lost: the stall of a paused silo must not stop the workload.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly HttpClient _http = CreateClient(cluster.ApiKey);

    private static HttpClient CreateClient(string apiKey)
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = 64, PooledConnectionLifetime = TimeSpan.FromSeconds(30) };
        var http = new HttpClient(handler) { Timeout = RequestTimeout };
        http.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        return http;
    }

    /// <summary>Stock to start from, recorded like any other operation.</summary>
    public async Task SeedStockAsync()
    {
        var random = new Random(options.Seed);
        foreach (var line in Lines)
        {
            await RunAsync("setup", random, "receive", line, $"seed-{Guid.NewGuid():N}", line.EndsWith("hot", StringComparison.Ordinal) ? 150 : 60);
        }
    }

    public async Task RunAsync(CancellationToken stop)
    {
        await Task.WhenAll(Enumerable.Range(0, options.Workers).Select(w => WorkerAsync(w, stop)));
    }

    private sealed class Order(string id, string line, long quantity)
    {
        public string Id { get; } = id;

        public string Line { get; } = line;

        public long Quantity { get; } = quantity;

        /// <summary>pending, committed, or done (shipped, released, or unknown: no further transitions are tried).</summary>
        public string State { get; set; } = "pending";
    }

    private async Task WorkerAsync(int worker, CancellationToken stop)
    {
        var random = new Random(unchecked(options.Seed + (7919 * (worker + 1))));
        var name = $"worker-{worker}";
        var orders = new List<Order>();
        while (!stop.IsCancellationRequested)
        {
            var line = random.Next(10) < 6 ? Lines[0] : Lines[1 + random.Next(Lines.Length - 1)];
            var roll = random.Next(100);
            var pending = orders.Where(o => o.State == "pending").ToList();
            var committed = orders.Where(o => o.State == "committed").ToList();
            if (roll < 40 || (roll < 75 && pending.Count + committed.Count == 0))
            {
                var quantity = 1 + random.Next(3);
                var id = $"o{worker}-{Guid.NewGuid():N}";
                var outcome = await RunAsync(name, random, "reserve", line, id, quantity);
                if (outcome == Outcome.Ok)
                {
                    orders.Add(new Order(id, line, quantity));
                }
            }
            else if (roll < 55 && pending.Count > 0)
            {
                var order = pending[random.Next(pending.Count)];
                order.State = await RunAsync(name, random, "commit", order.Line, order.Id, order.Quantity) == Outcome.Ok ? "committed" : "done";
            }
            else if (roll < 65 && committed.Count > 0)
            {
                var order = committed[random.Next(committed.Count)];
                await RunAsync(name, random, "ship", order.Line, order.Id, order.Quantity);
                order.State = "done";
            }
            else if (roll < 75 && pending.Count + committed.Count > 0)
            {
                var open = pending.Concat(committed).ToList();
                var order = open[random.Next(open.Count)];
                await RunAsync(name, random, "release", order.Line, order.Id, order.Quantity);
                order.State = "done";
            }
            else if (roll < 88)
            {
                await RunAsync(name, random, "receive", line, $"rc-{Guid.NewGuid():N}", 1 + random.Next(8));
            }
            else
            {
                var delta = random.Next(2) == 0 ? -(1 + random.Next(3)) : 1 + random.Next(3);
                await RunAsync(name, random, "adjust", line, $"aj-{Guid.NewGuid():N}", delta);
            }
        }
    }

    /// <summary>Runs one logical operation to a definite answer (or gives up), recording every attempt.</summary>
    private async Task<Outcome> RunAsync(string worker, Random random, string kind, string line, string id, long quantity)
    {
        var op = history.NextOp();
        var outcome = Outcome.Unknown;
        for (var attempt = 1; attempt <= MaxTries; attempt++)
        {
            // The negative control: a retry under a new id is a new operation to the server, so a lost answer doubles it.
            var attemptId = options.BrokenFreshRetryIds && attempt > 1 && kind is "receive" or "adjust" or "reserve" ? $"{id}-r{attempt}" : id;
            var invoked = clock.Elapsed.TotalMilliseconds;
            var (status, code) = await SendAsync(random, kind, line, attemptId, quantity);
            outcome = status switch
            {
                >= 200 and < 300 => Outcome.Ok,
                >= 400 and < 500 and not 408 and not 429 => Outcome.Fail,
                _ => Outcome.Unknown,
            };
            if (outcome == Outcome.Ok && random.NextDouble() < options.LoseResponses)
            {
                (outcome, code) = (Outcome.Unknown, "response_lost");
            }

            history.Record(new Attempt(op, attempt, kind, line, attemptId, quantity, worker, invoked, clock.Elapsed.TotalMilliseconds, outcome, status, code));
            if (outcome != Outcome.Unknown)
            {
                return outcome;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 100 * attempt)));
        }

        return outcome;
    }

    private async Task<(int Status, string? Code)> SendAsync(Random random, string kind, string line, string id, long quantity)
    {
        if (cluster.PickPort(random) is not { } port)
        {
            return (0, "no_live_silo");
        }

        var (warehouse, sku) = (line[..line.IndexOf('/', StringComparison.Ordinal)], line[(line.IndexOf('/', StringComparison.Ordinal) + 1)..]);
        var root = $"http://127.0.0.1:{port}";
        using var request = kind switch
        {
            "receive" => Post($"{root}/v1/stock/{line}/receipts", new { quantity }, id),
            "adjust" => Post($"{root}/v1/stock/{line}/adjustments", new { quantityDelta = quantity, reason = quantity > 0 ? "found" : "damaged" }, id),
            "reserve" => Post($"{root}/v1/reservations", new { reservationId = id, lines = new[] { new { sku, warehouse, quantity } } }, null),
            _ => Post($"{root}/v1/reservations/{id}/{kind}", null, null),
        };
        try
        {
            using var response = await _http.SendAsync(request);
            var code = (int)response.StatusCode >= 400 ? CodeOf(await response.Content.ReadAsStringAsync()) : null;
            return ((int)response.StatusCode, code);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            return (0, ex is TaskCanceledException ? "timeout" : "connection");
        }
    }

    private static HttpRequestMessage Post(string uri, object? body, string? idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, uri) { Content = body is null ? null : JsonContent.Create(body) };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return request;
    }

    private static string? CodeOf(string text)
    {
        try
        {
            return JsonDocument.Parse(text).RootElement.TryGetProperty("code", out var code) ? code.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
